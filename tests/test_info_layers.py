"""npsep info --layers: the per-layer table adds up to the model's parameters and
multiply-adds, and the published configurations have their published sizes."""
import json

import pytest

from npsep import architectures, info, weights
from conftest import valid_hparams
from npsep.cli import main


def small_hp(variant):
    hp = dict(out_channels=24, in_channels=48, num_blocks=3, upsampling_depth=4,
              enc_kernel_size=9, enc_num_basis=32, num_sources=3)
    return valid_hparams(variant, hp, group_size=4, mask_act="relu")


# --- the published sizes --------------------------------------------------------------

@pytest.mark.parametrize("preset,millions", [("improved-u16-b512", 5.02), ("groupcomm-u8-b512", 0.51)])
def test_published_parameter_counts(preset, millions):
    c = info.PUBLISHED[preset]
    n = info.config_parameter_count(c["variant"], c["hparams"])
    assert round(n / 1e6, 2) == millions
    assert sum(r["parameters"] for r in info.layer_table(c["variant"], c["hparams"], 8000)) == n


def test_published_configurations_are_the_issues():
    imp = info.PUBLISHED["improved-u16-b512"]
    assert imp["variant"] == "improved"
    assert imp["hparams"] == dict(out_channels=256, in_channels=512, num_blocks=16, upsampling_depth=5,
                                  enc_kernel_size=21, enc_num_basis=512, num_sources=2)
    gc = info.PUBLISHED["groupcomm-u8-b512"]
    assert gc["variant"] == "groupcomm"
    assert gc["hparams"] == dict(out_channels=256, in_channels=512, num_blocks=8, upsampling_depth=5,
                                 enc_kernel_size=21, enc_num_basis=512, num_sources=2, group_size=16)


def test_published_counts_through_the_cli(capsys):
    for preset, millions in (("improved-u16-b512", 5.02), ("groupcomm-u8-b512", 0.51)):
        assert main(["info", "--preset", preset, "--json"]) == 0
        s = json.loads(capsys.readouterr().out)
        assert round(s["parameters"] / 1e6, 2) == millions and "layers" not in s
        assert main(["info", "--preset", preset]) == 0
        assert f"({millions:.2f} M)" in capsys.readouterr().out


# --- the table adds up ---------------------------------------------------------------------

@pytest.mark.parametrize("variant", architectures.VARIANTS)
def test_layer_table_sums_to_the_totals(variant):
    hp = small_hp(variant)
    rows = info.layer_table(variant, hp, 8000)
    assert sum(r["parameters"] for r in rows) == info.config_parameter_count(variant, hp)
    assert sum(r["macs_per_second"] for r in rows) == pytest.approx(info.macs_per_second(variant, hp, 8000))
    # every state-dict tensor is in exactly one row; folded rows stand for all N blocks
    assert all(r["count"] in (1, hp["num_blocks"]) for r in rows)
    unfolded = info.layer_table(variant, hp, 8000, fold_blocks=False)
    assert len(unfolded) == len({n.rsplit(".", 1)[0] for n in architectures.expected_shapes(variant, hp)})
    assert sum(r["parameters"] for r in unfolded) == info.config_parameter_count(variant, hp)


@pytest.mark.parametrize("variant", architectures.VARIANTS)
def test_layer_table_of_a_file_reads_its_shapes(variant):
    hp = small_hp(variant)
    tensors = weights.random_tensors(variant, hp)  # every PReLU per channel
    shapes = {k: v.shape for k, v in tensors.items()}
    rows = info.layer_table(variant, hp, 16000, shapes)
    assert sum(r["parameters"] for r in rows) == info.parameter_count(tensors)
    assert sum(r["macs_per_second"] for r in rows) == pytest.approx(info.macs_per_second(variant, hp, 16000))


def test_layer_rows_for_the_improved_model():
    c = info.PUBLISHED["improved-u16-b512"]
    rows = {r["layer"]: r for r in info.layer_table(c["variant"], c["hparams"], 8000)}
    L = 800  # frames per second: 8000 Hz / hop 10
    assert rows["sm.*.proj_1x1.conv"]["count"] == 16
    assert rows["sm.*.proj_1x1.conv"]["parameters"] == 16 * (512 * 256 + 512)
    assert rows["sm.*.proj_1x1.conv"]["macs_per_second"] == 16 * 512 * 256 * L
    assert rows["sm.*.spp_dw.3.conv"]["macs_per_second"] == 16 * 512 * 5 * L / 8
    assert rows["sm.*.spp_dw.3.conv"]["output"] == "[512, L/8]"
    assert rows["decoder"]["macs_per_second"] == 1024 * 2 * 21 * L
    assert rows["mask_net.0"]["parameters"] == 1 and rows["mask_net.0"]["macs_per_second"] == 0


def test_prelu_sizes_follow_the_public_code():
    hp = dict(info.PUBLISHED["improved-u16-b512"]["hparams"])  # C_in = 512
    asteroid = dict(hp, mask_act="relu")
    assert info.config_shapes("improved", hp)["sm.0.proj_1x1.act.weight"] == (1,)
    assert info.config_shapes("original", hp)["sm.0.proj_1x1.act.weight"] == (512,)
    assert info.config_shapes("asteroid_improved", asteroid)["masker.sm.0.final_norm.act.weight"] == (512,)
    assert info.config_shapes("asteroid_improved", asteroid)["masker.sm.0.proj_1x1.act.weight"] == (1,)


# --- the command line --------------------------------------------------------------------

def test_cli_layers_table(capsys):
    assert main(["info", "--preset", "improved-u16-b512", "--layers"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    total = next(x for x in lines if x.startswith("total"))
    assert "5,016,353" in total and "3,776.5" in total
    assert any(x.startswith("sm.*.spp_dw.4.conv") and "[512, L/16]" in x for x in lines)


def test_cli_layers_of_a_file(tmp_path, capsys):
    hp = small_hp("improved")
    tensors = weights.random_tensors("improved", hp)
    path = tmp_path / "m.npz"
    weights.save(path, tensors, weights.make_config("improved", hp))
    assert main(["info", str(path), "--layers", "--json"]) == 0
    s = json.loads(capsys.readouterr().out)
    assert sum(r["parameters"] for r in s["layers"]) == s["parameters"] == info.parameter_count(tensors)


def test_cli_needs_exactly_one_model(tmp_path, capsys):
    assert main(["info", "--json"]) == 0  # neither given: the bundled model
    assert json.loads(capsys.readouterr().out)["sample_rate"] == 8000
    assert main(["info", str(tmp_path / "x.npz"), "--preset", "improved-u16-b512"]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "either" in err
    with pytest.raises(SystemExit):
        main(["info", "--preset", "no-such-model"])
