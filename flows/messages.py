"""The engine's own words (hints, paging, apologies), in the same three renderings as flow texts."""
from __future__ import annotations

from flows.definition import Text

MORE_NUMBER = "99"
SKIP_UNIT_NUMBER = 98

MESSAGES: dict[str, Text] = {
    "more": Text("Цааш", "More", "Tsaash"),
    "back": Text("Буцах", "Back", "Butsah"),
    "dont_know": Text("Мэдэхгүй", "Don't know", "Medehgui"),
    "hint_number_range": Text(
        "{{min}}-{{max}} хооронд тоо бичнэ үү", "Please send a number from {{min}} to {{max}}",
        "{{min}}-{{max}} hoorondoh too bichne uu",
    ),
    "hint_number": Text("Зөвхөн тоогоор хариулна уу", "Please reply with a number", "Zovhon toogoor hariulna uu"),
    "hint_one_number": Text("Ганц тоо бичнэ үү", "Please send one number", "Gants too bichne uu"),
    "hint_one_number_range": Text(
        "Ганц тоо бичнэ үү ({{min}}-{{max}})", "Please send one number ({{min}}-{{max}})",
        "Gants too bichne uu ({{min}}-{{max}})",
    ),
    "hint_choice": Text("Дугаараа сонгоно уу", "Please reply with one of the numbers", "Dugaaraa songono uu"),
    # Several choices in one answer (`most`): "1 3" on SMS, one number per screen on USSD.
    "hint_picks": Text(
        "{{most}} хүртэлх дугаараа зайгаар тусгаарлан бичнэ үү, жишээ нь 1 3",
        "Send up to {{most}} of the numbers, with spaces, e.g. 1 3",
        "{{most}} hurteleh dugaaraa zaigaar tusgaarlan bichne uu, jishee ni 1 3",
    ),
    "hint_too_many": Text(
        "{{most}}-аас ихгүйг сонгоно уу", "Please choose no more than {{most}}", "{{most}}-aas ihguig songono uu",
    ),
    "hint_only_one": Text("Ганцыг сонгоно уу", "Please choose only one", "Gantsiig songono uu"),
    "picked": Text("Сонгосон: {{picked}}. Өөр сонгох уу?", "Chosen: {{picked}}. Another?",
                   "Songoson: {{picked}}. Oor songoh uu?"),
    "done": Text("Болсон", "Done", "Bolson"),
    "hint_yes_no": Text(
        "1 эсвэл 2 гэж хариулна уу", "Please reply 1 (yes) or 2 (no)", "1 (tiim) esvel 2 (ugui) gej hariulna uu",
    ),
    "hint_text_empty": Text("Хариултаа бичнэ үү", "Please write your answer", "Hariultaa bichne uu"),
    "hint_text_long": Text(
        "{{max}} тэмдэгтээс богино бичнэ үү", "Please keep it under {{max}} characters",
        "{{max}} temdegtees bogino bichne uu",
    ),
    "hint_date": Text(
        "Огноог сар/өдөр хэлбэрээр бичнэ үү, жишээ нь 6/20", "Please send a date as month/day, e.g. 6/20",
        "Ognoog sar/odor helbereer bichne uu, jishee ni 6/20",
    ),
    "hint_unit": Text(
        "Нэрийг нь дахин бичнэ үү, жишээ нь Сонгинохайрхан", "Please type the name again, e.g. Songinokhairkhan",
        "Neriig ni dahin bichne uu, jishee ni Songinohairhan",
    ),
    "hint_unit_longer": Text(
        "Нэрийг нь бүтэн бичнэ үү", "Please type more of the name", "Neriig ni buten bichne uu",
    ),
    "ask_which_unit": Text("Аль нь вэ?", "Which one?", "Ali ni ve?"),
    "sms_unit_name": Text("Нэрийг нь бичнэ үү.", "Reply with its name.", "Neriig ni bichne uu."),
    "sms_unit_number": Text(
        "Дугаарыг нь бичнэ үү, мэдэхгүй бол 98.", "Reply with its number, or 98 if you don't know.",
        "Dugaariig ni bichne uu, medehgui bol 98.",
    ),
    "ask_second": Text("Аль хороо/баг вэ?", "Which khoroo or bag?", "Ali horoo/bag ve?"),
    "failed": Text(
        "Уучлаарай, хариултыг ойлгосонгүй. Дараа дахин оролдоно уу.",
        "Sorry, we could not understand the answer. Please try again later.",
        "Uuchlaarai, hariultiig oilgosongui. Daraa dahin oroldono uu.",
    ),
    "error": Text(
        "Уучлаарай, алдаа гарлаа. Дараа дахин оролдоно уу.", "Sorry, something went wrong. Please try again later.",
        "Uuchlaarai, aldaa garlaa. Daraa dahin oroldono uu.",
    ),
}
