"""The keyword baseline: Boolean queries a social-listening user would write, matched as substrings."""
from __future__ import annotations

from intentflow.classifier.labels import EMPLOYER_COMPLAINT, JOB_SEEKING, PURCHASE_INTENT

# (any of INCLUDE) AND NOT (any of EXCLUDE), case-insensitive substrings: how alert rules are written
# in typical monitoring tools.
QUERIES = {
    PURCHASE_INTENT: (
        ["куплю", "хочу купить", "посоветуйте", "подскажите", "какой выбрать", "где купить", "порадьте",
         "підкажіть", "хочу купити", "де купити", "want to buy", "recommend", "any recs", "where to buy",
         "looking for a", "alternative to", "альтернатив"],
        ["продам", "продаю", "скидк", "знижк", "for sale", "sale", "giveaway", "розыгрыш", "розіграш"]),
    JOB_SEEKING: (
        ["ищу работу", "ищу подработку", "резюме", "шукаю роботу", "шукаю підробіток", "looking for a job",
         "looking for work", "open to work", "job hunting", "hire me"],
        ["вакансия", "вакансія", "требуется", "шукаємо", "ищем", "we're hiring", "we are hiring", "hiring"]),
    EMPLOYER_COMPLAINT: (
        ["задерживают зарплату", "задерживают зп", "не платят", "затримують зарплату", "не платять",
         "переработк", "переробк", "начальник", "unpaid overtime", "not paid", "toxic boss", "my boss",
         "wage theft", "late pay"],
        ["банк", "магазин", "bank", "store"]),
}


class KeywordBaseline:
    name = "keywords"

    def predict(self, text: str) -> set[str]:
        lowered = text.lower()
        return {signal for signal, (include, exclude) in QUERIES.items()
                if any(w in lowered for w in include) and not any(w in lowered for w in exclude)}
