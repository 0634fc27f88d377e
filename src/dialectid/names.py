"""Names a person reads for the codes a model predicts: `es` is "Spanish", `ar-EGY` "Arabic
(Egyptian)", the taxonomy's `indo-aryan` "Indo-Aryan languages". Machine output (JSON, CSV, the
stored analysis) keeps the codes; reports, charts and pages show these names.

A code this module does not know is shown as it is rather than guessed at.

>>> label_name("es"), label_name("ar-EGY"), label_name("EGY"), label_name("en-US")
('Spanish', 'Arabic (Egyptian)', 'Arabic (Egyptian)', 'English (US)')
>>> label_name("semitic"), label_name("levantine"), label_name("dialect-07")
('Semitic languages', 'Levantine', 'dialect-07')
"""

from __future__ import annotations

import re

# ISO 639-1 / 639-3 codes: the shipped models' labels, their neighbours and the languages most
# often met in asylum procedures (so that a model trained on them is named without a code change).
LANGUAGES = {
    "am": "Amharic", "ar": "Arabic", "az": "Azerbaijani", "be": "Belarusian", "bg": "Bulgarian", "bn": "Bengali",
    "bs": "Bosnian", "ckb": "Kurdish (Sorani)", "cs": "Czech", "da": "Danish", "de": "German", "el": "Greek",
    "en": "English", "es": "Spanish", "et": "Estonian", "fa": "Persian", "fi": "Finnish", "fr": "French",
    "fy": "West Frisian", "ha": "Hausa", "he": "Hebrew", "hi": "Hindi", "hr": "Croatian", "hu": "Hungarian",
    "hy": "Armenian", "id": "Indonesian", "is": "Icelandic", "it": "Italian", "ja": "Japanese", "ka": "Georgian",
    "kk": "Kazakh", "kmr": "Kurdish (Kurmanji)", "ko": "Korean", "ku": "Kurdish", "ky": "Kyrgyz", "lt": "Lithuanian",
    "lv": "Latvian", "mk": "Macedonian", "ml": "Malayalam", "mn": "Mongolian", "ne": "Nepali", "nl": "Dutch",
    "no": "Norwegian", "pa": "Punjabi", "pl": "Polish", "prs": "Dari", "ps": "Pashto", "pt": "Portuguese",
    "ro": "Romanian", "ru": "Russian", "sk": "Slovak", "sl": "Slovenian", "so": "Somali", "sq": "Albanian",
    "sr": "Serbian", "sv": "Swedish", "sw": "Swahili", "ta": "Tamil", "tg": "Tajik", "th": "Thai", "ti": "Tigrinya",
    "tk": "Turkmen", "tl": "Tagalog", "tr": "Turkish", "uk": "Ukrainian", "ur": "Urdu", "uz": "Uzbek",
    "vi": "Vietnamese", "wo": "Wolof", "yo": "Yoruba", "zh": "Chinese",
}  # fmt: skip
# Arabic dialect codes of ADI-5, ADI-17, VarDial and MADIS-5 (regions and countries).
ARABIC_DIALECTS = {
    "EGY": "Egyptian", "GLF": "Gulf", "LAV": "Levantine", "LEV": "Levantine", "MSA": "Modern Standard",
    "NOR": "North African", "MAG": "Maghrebi", "ALG": "Algerian", "MOR": "Moroccan", "LIB": "Libyan",
    "MAU": "Mauritanian", "SUD": "Sudanese", "IRA": "Iraqi", "JOR": "Jordanian", "LEB": "Lebanese",
    "PAL": "Palestinian", "SYR": "Syrian", "KSA": "Saudi", "KUW": "Kuwaiti", "QAT": "Qatari", "UAE": "Emirati",
    "OMA": "Omani", "YEM": "Yemeni",
}  # fmt: skip
# Inner nodes of the shipped taxonomies that are families, not languages.
GROUPS = {
    "semitic": "Semitic languages", "iranian": "Iranian languages", "indo-aryan": "Indo-Aryan languages",
    "turkic": "Turkic languages", "armenian-branch": "Armenian (own branch)", "germanic": "Germanic languages",
    "romance": "Romance languages", "slavic": "Slavic languages", "uralic": "Uralic languages",
    "japonic": "Japonic languages", "out_of_set": "another language (out of set)",
}  # fmt: skip
_WORD = re.compile(r"[a-z]+(-[a-z]+)*")  # a taxonomy node written as words: "arabic", "north-african"


def label_name(code: str) -> str:
    """The name of a label or taxonomy node, for people; the code itself where none is known."""
    if code in LANGUAGES:
        return LANGUAGES[code]
    if code in GROUPS:
        return GROUPS[code]
    if code in ARABIC_DIALECTS:
        return f"Arabic ({ARABIC_DIALECTS[code]})"
    language, _, variety = code.partition("-")
    if variety and language in LANGUAGES:
        region = ARABIC_DIALECTS.get(variety, variety) if language == "ar" else variety
        return f"{LANGUAGES[language]} ({region})"
    if len(code) > 3 and _WORD.fullmatch(code):
        return "-".join(part.capitalize() for part in code.split("-"))
    return code


def is_family(code: str) -> bool:
    """Whether `code` names a family of languages rather than a language (for the report's tree)."""
    return code in GROUPS and code != "out_of_set"
