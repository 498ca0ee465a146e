"""What the gateway itself says (consent notice, STOP/START/HELP, menus), in Mongolian, English and Latin.

Latin renderings are written by hand in the informal spelling people text in (h for х, u for ө/ү), and fit GSM-7.
Placeholders use str.format: `{months}`, `{keywords}`.
"""
from __future__ import annotations

from flows.definition import Text

TEXTS: dict[str, Text] = {
    "notice": Text(
        "Тавтай морил! Хариултыг тань {months} сар хадгална; албан тушаалтан зөвхөн нэгтгэлийг харна, дугаарыг тань "
        "харахгүй. Зогсоох бол ЗОГС. English: EN",
        "Welcome! We keep your answers {months} months; officials see only totals, never your number. "
        "Text STOP to stop. Mongol hel: MN",
        "Tavtai moril! Hariultiig tani {months} sar hadgalna; alban tushaaltan zuvhun negtgeliig harna, dugaariig "
        "tani harahgui. Zogsooh bol ZOGS. English: EN",
    ),
    "notice_ussd": Text(  # a Cyrillic USSD screen holds only 80 characters
        "Хариултыг {months} сар хадгална, дугаарыг харуулахгүй. Зогсоох: ЗОГС",
        "We keep answers {months} months; officials see only totals, never your number. Text STOP to stop.",
        "Hariultiig tani {months} sar hadgalna; alban tushaaltan zuvhun negtgeliig harna, dugaariig tani harahgui. "
        "Zogsooh bol ZOGS.",
    ),
    "continue": Text("1. За", "1. OK", "1. Za"),
    "stopped": Text(
        "Та бүртгэлээс гарлаа, бид цааш мессеж илгээхгүй. Дахин нэгдэх бол ЭХЛЭХ гэж бичнэ үү.",
        "You have opted out; we will send nothing more. To join again, text START.",
        "Ta burtgelees garlaa, bid tsaash msj ilgeehgui. Dahin negdeh bol EHLEH gej bichne uu.",
    ),
    "started": Text(
        "Та дахин нэгдлээ. Юу бичиж болохыг мэдэх бол ТУСЛАМЖ гэж бичнэ үү.",
        "You have joined again. Text HELP to see what you can send.",
        "Ta dahin negdlee. Yu bichij bolohiig medeh bol TUSLAMJ gej bichne uu.",
    ),
    "help": Text(
        "Илгээх үг: {keywords}. ЗОГС - зогсоох, EN - English.",
        "Words you can send: {keywords}. STOP - stop messages, MN - Mongolian.",
        "Ilgeeh ug: {keywords}. ZOGS - zogsooh, EN - English.",
    ),
    "help_none": Text(
        "Одоогоор SMS-ээр эхлэх үйлчилгээ алга. ЗОГС - зогсоох, EN - English.",
        "Nothing can be started by SMS right now. STOP - stop messages, MN - Mongolian.",
        "Odoogoor SMS-eer ehleh uilchilgee alga. ZOGS - zogsooh, EN - English.",
    ),
    "opted_out_help": Text(
        "Та бүртгэлээс гарсан байна. Дахин нэгдэх бол ЭХЛЭХ гэж бичнэ үү.",
        "You have opted out. To join again, text START.",
        "Ta burtgelees garsan baina. Dahin negdeh bol EHLEH gej bichne uu.",
    ),
    "unknown": Text("Ойлгосонгүй.", "Sorry, I did not understand.", "Oilgosongui."),
    "language": Text(
        "Хэл: Монгол. English: EN гэж бичнэ үү.",
        "Language: English. For Mongolian, text MN.",
        "Hel: Mongol. English: EN gej bichne uu.",
    ),
    "script_cyrl": Text(
        "Одоо кирилл үсгээр хариулна. Латин үсгээр авах бол LATIN гэж бичнэ үү.",
        "Replies now use Cyrillic letters. Text LATIN for Latin letters.",
        "Odoo kirill usgeer hariulna. Latin usgeer avah bol LATIN gej bichne uu.",
    ),
    "script_latn": Text(
        "Одоо латин үсгээр хариулна. Кирилл үсгээр авах бол КИРИЛЛ гэж бичнэ үү.",
        "Replies now use Latin letters. Text KIRILL for Cyrillic letters.",
        "Odoo latin usgeer hariulna. Kirill usgeer avah bol KIRILL gej bichne uu.",
    ),
    "menu": Text("Сонгоно уу:", "Choose:", "Songono uu:"),
    "menu_language": Text("English", "Mongol", "English"),
    "invalid": Text("Буруу сонголт.", "Invalid choice.", "Buruu songolt."),
    "no_services": Text("Одоогоор үйлчилгээ алга.", "No services are available now.", "Odoogoor uilchilgee alga."),
    "ussd_opted_out": Text(
        "Та бүртгэлээс гарсан байна.\n1. Дахин нэгдэх", "You have opted out.\n1. Join again",
        "Ta burtgelees garsan baina.\n1. Dahin negdeh",
    ),
    "goodbye": Text("Баярлалаа.", "Thank you.", "Bayarlalaa."),
    "unavailable": Text(
        "Уучлаарай, энэ үйлчилгээ одоо ажиллахгүй байна.", "Sorry, this service is not available now.",
        "Uuchlaarai, ene uilchilgee odoo ajillahgui baina.",
    ),
    "error": Text(
        "Уучлаарай, алдаа гарлаа. Дараа дахин оролдоно уу.", "Sorry, something went wrong. Please try again later.",
        "Uuchlaarai, aldaa garlaa. Daraa dahin oroldono uu.",
    ),
}


def say(key: str, language: str, script: str, **values: object) -> str:
    """One of TEXTS for a reader; English ignores script."""
    source = TEXTS[key].source(language, script)
    return source.format(**values) if values else source
