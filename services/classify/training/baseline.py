"""The keyword baseline: the Boolean alert queries an experienced social-listening user would write.

Per class and language: (any INCLUDE term) AND NOT (any EXCLUDE term), as case-insensitive substrings, which is
how alert rules are written in typical monitoring tools. Terms are word stems where the inflections differ
("переработк" catches "переработки", "переработку"); a term written "a & b" needs both substrings (the tools'
AND inside one rule). Every language's terms apply to every post, since posts mix languages.
"""
from __future__ import annotations

from intentflow.signals import EMPLOYER_COMPLAINT, JOB_SEEKING, PURCHASE_INTENT

QUERIES: dict[str, dict[str, tuple[list[str], list[str]]]] = {
    PURCHASE_INTENT: {
        "ru": (["куплю", "хочу купить", "хотим купить", "собираюсь купить", "планирую купить", "где купить",
                "где заказать", "где взять", "посоветуйте", "подскажите", "порекомендуйте", "какой выбрать",
                "какую выбрать", "что выбрать", "что лучше", "какой лучше", "стоит ли брать", "стоит ли покупать",
                "что взять", "какой взять", "кто знает хорош", "кто знает нормальн", "нужен мастер", "ищу мастера",
                "ищу репетитора", "альтернатив", "аналог", "чем заменить", "на что поменять", "присматрива",
                "выбираю", "нужна помощь с выбором", "помогите выбрать", "kuplyu", "posovetuyte", "podskazhite",
                "ищу", "нужен", "нужна", "нужно", "срочно", "кто знает", "подскаж", "посовет", "где можно",
                "какой брать", "что брать", "кто делает", "контакты"],
               ["продам", "продаю", "продаётся", "продается", "в наличии", "скидк", "распродаж", "акция",
                "розыгрыш", "конкурс", "купил", "купила", "отзыв", "обзор", "вакансия", "ищем в команду", "работу",
                "работа", "резюме",
                "зарплат", "зп "]),
        "uk": (["куплю", "хочу купити", "хочемо купити", "хочу придбати", "де купити", "де замовити", "де взяти",
                "порадьте", "підкажіть", "посовєтуйте", "порекомендуйте", "який обрати", "яку обрати", "що обрати",
                "що краще", "який краще", "чи варто брати", "чи варто купувати", "що взяти", "який взяти",
                "хто знає хорош", "потрібен майстер", "шукаю майстра", "шукаю репетитора", "альтернатив", "аналог",
                "чим замінити", "обираю", "допоможіть обрати", "шукаю", "потрібен", "потрібна", "треба", "терміново",
                "хто знає", "порад", "підкаж", "де можна", "хто робить", "контакти"],
               ["продам", "продаю", "продається", "в наявності", "знижк", "розпродаж", "акція", "розіграш",
                "конкурс", "купив", "купила", "придбав", "придбала", "відгук", "огляд", "вакансія", "роботу", "робота",
                "резюме", "зарплат", "зп "]),
        "en": (["want to buy", "looking to buy", "planning to buy", "thinking of buying", "where to buy",
                "where can i buy", "recommend", "any recs", "recs?", "suggestions", "which one should",
                "what should i get", "what should i buy", "worth buying", "is it worth", "in the market for",
                "shopping for", "wtb", "alternative to", "alternatives to", "looking for a good", "need a good",
                "anyone know a good", "help me choose", "help me pick", "replacement for", "looking for", "need a ",
                "need an ", "anyone know", "does anybody know", "where can i", "where to get", "recommendations",
                "any good", "i need", "who do you use"],
               ["for sale", "selling", "discount", "% off", "promo code", "giveaway", "bought", "just got",
                "review", "we're hiring", "we are hiring", "job", "hiring", "resume", " cv", "work"]),
    },
    JOB_SEEKING: {
        "ru": (["ищу работу", "ищу подработку", "ищу новую работу", "ищу вакансию", "ищу место", "ищу стажировку",
                "в поиске работы", "рассмотрю предложения", "открыт к предложениям", "открыта к предложениям",
                "возьмите на работу", "ищу заказы", "ищу клиентов", "ищу заказчиков", "беру заказы", "резюме",
                "нужна работа", "ищет работу", "куда берут", "где берут", "ищу любую работу", "без работы",
                "ishchu rabotu", "ischu rabotu", "ищу & работ", "в поиске", "опыт работы", "возьмите",
                "ищу & подработ", "мой опыт", "портфолио"],
               ["ищем", "требуется", "требуются", "вакансия", "приглашаем", "набираем", "в команду",
                "нашел работу", "нашла работу", "нашёл работу", "устроился", "устроилась", "вышла на работу",
                "вышел на работу"]),
        "uk": (["шукаю роботу", "шукаю підробіток", "шукаю нову роботу", "шукаю вакансію", "шукаю місце",
                "шукаю стажування", "в пошуку роботи", "розгляну пропозиції", "відкритий до пропозицій",
                "відкрита до пропозицій", "візьміть на роботу", "шукаю замовлення", "шукаю клієнтів",
                "шукаю замовників", "беру замовлення", "резюме", "потрібна робота", "шукає роботу", "куди беруть",
                "де беруть", "без роботи", "шукаю & робот", "в пошуку", "досвід роботи", "візьміть", "шукаю & підробіт",
                "мій досвід", "портфоліо", "ищу & робот"],
               ["шукаємо", "потрібні", "вакансія", "запрошуємо", "набираємо", "в команду", "до команди",
                "знайшов роботу", "знайшла роботу", "влаштувався", "влаштувалась", "влаштувалася", "вийшла на роботу",
                "вийшов на роботу"]),
        "en": (["looking for a job", "looking for work", "looking for a new job", "looking for a role",
                "looking for an internship", "job hunting", "job search", "open to work", "open to opportunities",
                "hire me", "available for hire", "available for freelance", "looking for clients",
                "taking on clients", "taking new clients", "my resume", "my cv", "seeking employment", "need a job",
                "laid off", "unemployed", "anyone hiring", "who's hiring", "looking & job", "need work",
                "searching for work",
                "years of experience", "yrs experience", "available", "portfolio", "dm me", "applications"],
               ["we're hiring", "we are hiring", "now hiring", "join our team", "apply now", "we are looking for",
                "we're looking for", "got the job", "got hired", "accepted an offer", "no longer open to work"]),
    },
    EMPLOYER_COMPLAINT: {
        "ru": (["задерж & зарплат", "задерж & зп", "не плат & зарплат", "не платят", "не заплатили",
                "не выплатили", "без оплаты", "переработк", "сверхурочн", "штрафуют", "оштрафовали", "начальник",
                "начальство", "начальниц", "работодател", "руководство", "уволили", "в конверте", "серая зарплата",
                "без оформления", "неофициально", "без выходных", "трудовая инспекция", "не оплачивают",
                "zaderzhivayut", "ne platyat", "шеф", "директор", "руководител", "заставля", "штраф", "вычли",
                "вычита", "премию", "премии", "зарплат & не", "зп & не", "за свой счет", "на работе & не"],
               ["банк", "магазин", "оператор", "доставк", "заказ", "сообщает", "по данным", "стало известно",
                "вакансия", "требуются"]),
        "uk": (["затрим & зарплат", "затрим & зп", "не плат & зарплат", "не платять", "не заплатили",
                "не виплатили", "без оплати", "переробк", "понаднормов", "штрафують", "оштрафували", "начальник",
                "начальство", "начальниц", "роботодав", "керівництво", "звільнили", "в конверті", "без оформлення",
                "неофіційно", "без вихідних", "держпраці", "не оплачують", "шеф", "директор", "керівник", "змушу",
                "штраф",
                "вирахува", "премію", "премії", "зарплат & не", "зп & не", "за свій рахунок", "на роботі & не"],
               ["банк", "магазин", "оператор", "доставк", "замовлен", "повідомляє", "за даними", "стало відомо",
                "вакансія", "потрібні"]),
        "en": (["unpaid overtime", "not paid", "haven't been paid", "havent been paid", "paycheck is late",
                "late paycheck", "paycheck late", "wage theft", "my boss", "my manager", "toxic boss",
                "toxic workplace", "my employer", "off the books", "no breaks", "docked my pay", "written up",
                "underpaid", "mandatory overtime", "overtime", "boss", "manager", "employer", "fined", "paycheck",
                "wages", "salary", "bonus", "forced to", "my job", "at work & not"],
               ["bank", "store", "customer service", "refund", "delivery", "reported", "according to",
                "we're hiring", "we are hiring"]),
    },
}


def _matches(term: str, lowered: str) -> bool:
    return all(part in lowered for part in term.split(" & "))


class KeywordBaseline:
    name = "keywords"

    def __init__(self, queries: dict[str, dict[str, tuple[list[str], list[str]]]] = QUERIES):
        # A post in any language is checked against every language's rule of a class, as one alert per class.
        self.rules = {signal: [(inc, exc) for inc, exc in by_lang.values()] for signal, by_lang in queries.items()}

    def predict(self, text: str) -> set[str]:
        lowered = text.lower()
        return {signal for signal, rules in self.rules.items()
                if any(any(_matches(t, lowered) for t in include) and not any(_matches(t, lowered) for t in exclude)
                       for include, exclude in rules)}
