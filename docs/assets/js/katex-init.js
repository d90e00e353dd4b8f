// Typeset every arithmatex span/div (pymdownx.arithmatex, generic mode) with the vendored KaTeX.
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll(".arithmatex").forEach(function (el) {
    var tex = el.textContent.trim();
    var display = tex.startsWith("\\[");
    tex = tex.replace(/^\\[\[(]/, "").replace(/\\[\])]$/, "");
    katex.render(tex, el, {displayMode: display, throwOnError: false});
  });
});
