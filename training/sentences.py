"""Deterministic sentence generators (English for training, German and Spanish
for the unseen-language test set).

The word lists and templates below were written for npsep; sentences are drawn
from a small phrase grammar with a seeded ``random.Random`` so that the same seed
always yields the same sentences in the same order.
"""

import random

# --------------------------------------------------------------------------
# English
# --------------------------------------------------------------------------

EN_DET = ["the", "a", "one", "every", "that", "this", "my", "your", "our", "their",
          "some", "no", "each", "her", "his"]
EN_ADJ = ["quiet", "bright", "old", "young", "heavy", "narrow", "green", "golden",
          "lazy", "curious", "tired", "clever", "broken", "silver", "small", "giant",
          "gentle", "angry", "rusty", "wooden", "patient", "sudden", "ancient",
          "muddy", "famous", "hungry", "careful", "shiny", "distant", "frozen",
          "noisy", "purple", "humble", "brave", "crooked", "empty", "fragile",
          "honest", "little", "modern", "polite", "rapid", "salty", "smooth",
          "strange", "tall", "warm", "yellow", "bitter", "calm"]
EN_NOUN = ["farmer", "teacher", "river", "engine", "garden", "window", "doctor",
           "painter", "kitten", "lantern", "village", "mountain", "sailor", "baker",
           "station", "letter", "bicycle", "market", "forest", "captain", "student",
           "machine", "orchard", "kettle", "blanket", "pilot", "neighbor", "harbor",
           "violin", "tractor", "museum", "soldier", "rabbit", "carpet", "island",
           "merchant", "tower", "ladder", "pocket", "bridge", "carpenter", "singer",
           "wagon", "puppy", "cottage", "dancer", "lawyer", "helmet", "tunnel",
           "monkey", "printer", "shadow", "violet", "parrot", "guitar", "compass",
           "feather", "scholar", "robot", "tailor"]
EN_NOUN_PL = ["apples", "letters", "stones", "candles", "horses", "pictures",
              "papers", "boxes", "flowers", "coins", "tickets", "blankets", "keys",
              "buttons", "shoes", "bottles", "baskets", "songs", "stories", "maps",
              "onions", "pencils", "cookies", "gloves", "ribbons", "bells", "shells",
              "oranges", "clocks", "pebbles"]
EN_VERB_T = ["carried", "painted", "found", "borrowed", "counted", "opened",
             "washed", "cleaned", "sold", "bought", "watched", "repaired", "hid",
             "dropped", "lifted", "folded", "moved", "pushed", "pulled", "packed",
             "noticed", "followed", "collected", "admired", "measured", "delivered",
             "ignored", "described", "remembered", "forgot"]
EN_VERB_I = ["laughed", "waited", "slept", "shouted", "arrived", "vanished",
             "trembled", "whistled", "wandered", "returned", "danced", "smiled",
             "hesitated", "stumbled", "listened", "complained", "sang", "worked",
             "rested", "argued"]
EN_PREP = ["near", "behind", "under", "beside", "above", "across", "inside",
           "outside", "around", "beyond", "along", "past", "toward", "without"]
EN_ADV = ["slowly", "quickly", "quietly", "happily", "suddenly", "carefully",
          "loudly", "gently", "finally", "rarely", "proudly", "calmly", "eagerly",
          "nervously", "secretly", "boldly"]
EN_TIME = ["yesterday", "this morning", "last winter", "at noon", "before dinner",
           "after the storm", "on monday", "every evening", "in the spring",
           "at midnight", "on friday night", "during the summer", "an hour ago",
           "at dawn", "late at night"]
EN_NUM = ["two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
          "eleven", "twelve", "twenty", "thirty", "forty", "fifty", "a hundred"]
EN_NAME = ["Anna", "Peter", "Maria", "Oscar", "Lucy", "Henry", "Nora", "Victor",
           "Grace", "Felix", "Ruth", "Simon", "Clara", "Daniel", "Irene", "Leo",
           "Martha", "Tobias", "Helen", "Walter"]


def _en_np(r):
    if r.random() < 0.15:
        return r.choice(EN_NAME)
    if r.random() < 0.5:
        return "%s %s %s" % (r.choice(EN_DET), r.choice(EN_ADJ), r.choice(EN_NOUN))
    return "%s %s" % (r.choice(EN_DET), r.choice(EN_NOUN))


def _en_sentence(r):
    t = r.randrange(7)
    if t == 0:
        s = "%s %s %s %s %s" % (_en_np(r), r.choice(EN_VERB_T), _en_np(r),
                                r.choice(EN_PREP), _en_np(r))
    elif t == 1:
        s = "%s %s %s %s" % (_en_np(r), r.choice(EN_ADV), r.choice(EN_VERB_I),
                             r.choice(EN_TIME))
    elif t == 2:
        s = "%s, %s %s %s %s %s" % (r.choice(EN_TIME).capitalize(), _en_np(r),
                                    r.choice(EN_VERB_T), r.choice(EN_NUM),
                                    r.choice(EN_ADJ), r.choice(EN_NOUN_PL))
    elif t == 3:
        s = "did %s really see %s %s %s?" % (_en_np(r), _en_np(r), r.choice(EN_PREP),
                                           _en_np(r))
    elif t == 4:
        s = "%s %s %s, and then %s %s %s" % (_en_np(r), r.choice(EN_VERB_I), r.choice(EN_ADV),
                                           _en_np(r), r.choice(EN_VERB_T), _en_np(r))
    elif t == 5:
        s = "%s said that %s %s %s %s %s" % (r.choice(EN_NAME), _en_np(r), r.choice(EN_VERB_T),
                                          r.choice(EN_NUM), r.choice(EN_NOUN_PL),
                                          r.choice(EN_TIME))
    else:
        s = "there were %s %s %s %s %s %s" % (r.choice(EN_NUM), r.choice(EN_ADJ),
                                           r.choice(EN_NOUN_PL), r.choice(EN_PREP),
                                           _en_np(r), r.choice(EN_TIME))
    s = s[0].upper() + s[1:]
    if not s.endswith("?"):
        s += "."
    return s


# --------------------------------------------------------------------------
# German (test only)
# --------------------------------------------------------------------------

DE_SUBJ = ["der alte Bauer", "die junge Lehrerin", "mein Nachbar", "ein kleiner Hund",
           "die Katze", "unser Kapitän", "der müde Maler", "eine freundliche Ärztin",
           "der Bäcker", "das Kind", "meine Schwester", "der Förster", "die Sängerin",
           "ein fremder Mann", "der Student", "die Großmutter", "der Schneider",
           "eine kluge Frau", "der Briefträger", "das Mädchen"]
DE_VERB = ["trug", "fand", "kaufte", "verkaufte", "reparierte", "suchte", "malte",
           "öffnete", "versteckte", "brachte", "zählte", "sah", "holte", "wusch",
           "vergaß"]
DE_OBJ = ["den roten Koffer", "einen alten Brief", "das kaputte Fahrrad",
          "die warme Decke", "drei grüne Äpfel", "eine silberne Uhr", "den schweren Tisch",
          "das neue Buch", "viele bunte Blumen", "einen hölzernen Stuhl", "die kleine Lampe",
          "zwei Flaschen Wasser", "den langen Schal", "ein paar Kerzen", "die alte Karte"]
DE_PLACE = ["im Garten", "am Bahnhof", "hinter dem Haus", "auf dem Markt", "im Wald",
            "an der Brücke", "neben dem Fenster", "in der Küche", "am Fluss",
            "unter der Treppe", "auf dem Berg", "im Dorf"]
DE_TIME = ["gestern", "heute Morgen", "am Abend", "im Winter", "letzte Woche",
           "nach dem Regen", "am Sonntag", "um Mitternacht", "jeden Tag", "im Sommer"]


def _de_sentence(r):
    t = r.randrange(3)
    if t == 0:
        s = "%s %s %s %s %s" % (r.choice(DE_SUBJ), r.choice(DE_VERB), r.choice(DE_TIME),
                                r.choice(DE_OBJ), r.choice(DE_PLACE))
    elif t == 1:
        s = "%s %s %s %s %s" % (r.choice(DE_TIME), r.choice(DE_VERB), r.choice(DE_SUBJ),
                                r.choice(DE_OBJ), r.choice(DE_PLACE))
    else:
        s = "%s %s %s %s, und %s %s %s" % (r.choice(DE_SUBJ), r.choice(DE_VERB),
                                          r.choice(DE_OBJ), r.choice(DE_PLACE),
                                          r.choice(DE_SUBJ), r.choice(DE_VERB),
                                          r.choice(DE_OBJ))
    return s[0].upper() + s[1:] + "."


# --------------------------------------------------------------------------
# Spanish (test only)
# --------------------------------------------------------------------------

ES_SUBJ = ["el viejo granjero", "la joven maestra", "mi vecino", "un perro pequeño",
           "la gata", "nuestro capitán", "el pintor cansado", "una doctora amable",
           "el panadero", "el niño", "mi hermana", "el marinero", "la cantante",
           "un hombre extraño", "el estudiante", "la abuela", "el sastre",
           "una mujer lista", "el cartero", "la muchacha"]
ES_VERB = ["llevó", "encontró", "compró", "vendió", "reparó", "buscó", "pintó",
           "abrió", "escondió", "trajo", "contó", "miró", "limpió", "olvidó", "guardó"]
ES_OBJ = ["la maleta roja", "una carta antigua", "la bicicleta rota", "la manta caliente",
          "tres manzanas verdes", "un reloj de plata", "la mesa pesada", "el libro nuevo",
          "muchas flores de colores", "una silla de madera", "la lámpara pequeña",
          "dos botellas de agua", "la bufanda larga", "unas velas", "el mapa viejo"]
ES_PLACE = ["en el jardín", "en la estación", "detrás de la casa", "en el mercado",
            "en el bosque", "junto al puente", "al lado de la ventana", "en la cocina",
            "cerca del río", "debajo de la escalera", "en la montaña", "en el pueblo"]
ES_TIME = ["ayer", "esta mañana", "por la tarde", "en invierno", "la semana pasada",
           "después de la lluvia", "el domingo", "a medianoche", "cada día", "en verano"]


def _es_sentence(r):
    t = r.randrange(3)
    if t == 0:
        s = "%s %s %s %s %s" % (r.choice(ES_SUBJ), r.choice(ES_VERB), r.choice(ES_OBJ),
                                r.choice(ES_PLACE), r.choice(ES_TIME))
    elif t == 1:
        s = "%s, %s %s %s %s" % (r.choice(ES_TIME), r.choice(ES_SUBJ), r.choice(ES_VERB),
                                 r.choice(ES_OBJ), r.choice(ES_PLACE))
    else:
        s = "%s %s %s %s, y %s %s %s" % (r.choice(ES_SUBJ), r.choice(ES_VERB),
                                        r.choice(ES_OBJ), r.choice(ES_PLACE),
                                        r.choice(ES_SUBJ), r.choice(ES_VERB),
                                        r.choice(ES_OBJ))
    return s[0].upper() + s[1:] + "."


GENERATORS = {"en": _en_sentence, "de": _de_sentence, "es": _es_sentence}


def sentence_stream(lang, seed):
    """Yield an endless deterministic stream of sentences (with repeats)."""
    r = random.Random("%s:%d" % (lang, seed))
    gen = GENERATORS[lang]
    while True:
        yield gen(r)
