"""Hard negatives of every look-alike kind in every language are not flagged; clear positives are, with evidence.

The posts are written for these tests (not taken from the corpora)."""
from __future__ import annotations

import pytest

from intentflow.signals import EMPLOYER_COMPLAINT, JOB_SEEKING, PURCHASE_INTENT, SIGNALS
from services.classify.classifier import ClassifyInput

LOOKALIKES = {
    "seller_ad": {
        "ru": ["Продаю iPhone 13, 128 ГБ, состояние идеальное, 45 000 ₽, торг. Пишите в лс",
               "Свежий мёд с пасеки, банка 3 литра 1500 руб, доставка по городу бесплатно, звоните"],
        "uk": ["Продам дитячу коляску 2в1, стан ідеальний, 6000 грн, Львів, самовивіз",
               "Знижка 30% на всі куртки до неділі! Чекаємо в нашому магазині на Сумській, 12"],
        "en": ["Selling my PS5 with two controllers, $380, pickup only in Austin",
               "Spring sale: 25% off all planters this weekend, free shipping over $50"],
    },
    "happy_customer": {
        "ru": ["Купила наконец-то посудомойку, как я жила без неё раньше, вообще не жалею"],
        "uk": ["Взяли минулого місяця робот-пилосос, задоволені як слони, кіт теж"],
        "en": ["Finally bought the standing desk everyone here recommended, my back thanks you all"],
    },
    "review": {
        "ru": ["Обзор наушников после месяца использования: звук хороший, шумодав средний, кейс маркий. 7 из 10"],
        "uk": ["Відгук про мультиварку: готує швидко, але кришка погано миється. Загалом 4 з 5"],
        "en": ["Review after 3 months with my Kindle: battery lasts weeks, screen is great, store is annoying. 8/10"],
    },
    "giveaway": {
        "ru": ["РОЗЫГРЫШ! Дарим сертификат на 5000 рублей. Условия: подписка, лайк и отметь друга в комментариях"],
        "uk": ["Розіграш навушників! Підпишись, постав лайк і відміть двох друзів. Підсумки в п'ятницю"],
        "en": ["GIVEAWAY time! Win a $100 gift card: follow us, like this post and tag a friend. Winner on Friday"],
    },
    "idiom": {
        "ru": ["На эти сказки про быстрый заработок я не куплюсь, ищите наивных в другом месте"],
        "uk": ["Робота не вовк, в ліс не втече — сказав я собі і пішов спати"],
        "en": ["Nice try, but I'm not buying it. Nobody gets rich from a two-week course"],
    },
    "hiring": {
        "ru": ["Ищем в команду менеджера по продажам, оклад 60 000 + процент, оформление по ТК. Резюме на почту",
               "Кафе в центре Казани требуются официанты, график 2/2, обучение, оплата каждую неделю"],
        "uk": ["Шукаємо в команду SMM-менеджера, віддалено, оплата від 20 000 грн. Надсилайте резюме в особисті",
               "Пекарні на Оболоні потрібні пекарі, графік 2/2, офіційне оформлення"],
        "en": ["We're hiring! Our café is looking for a weekend barista, $18/hr plus tips. Apply in store",
               "Now hiring warehouse associates, all shifts, weekly pay. Apply on our website"],
    },
    "just_hired": {
        "ru": ["Ура, меня взяли! С понедельника выхожу на новую работу бухгалтером, спасибо всем, кто поддерживал"],
        "uk": ["Отримала офер і сьогодні підписала договір! Перший робочий день у понеділок, дякую всім"],
        "en": ["Got the job!! Starting Monday as a junior analyst, thank you all for the referrals"],
    },
    "work_question": {
        "ru": ["Коллеги-бухгалтеры, подскажите, как правильно оформить возврат аванса сотруднику при увольнении?"],
        "uk": ["Колеги, як правильно налаштувати автоматичні звіти в Excel, щоб не копіювати дані щодня?"],
        "en": ["How do you handle code reviews when a PR is 2000 lines? Asking for my team's process"],
    },
    "customer_complaint": {
        "ru": ["Интернет-магазин третью неделю не возвращает деньги за отмененный заказ, поддержка отвечает шаблонами"],
        "uk": ["Оператор знову списав гроші за послугу, яку я не підключала. Підтримка футболить вже тиждень"],
        "en": ["My bank charged me an overdraft fee twice for the same payment and customer service keeps hanging up"],
    },
    "venting": {
        "ru": ["Понедельник, опять на работу к восьми, а я ещё с выходных не проснулся"],
        "uk": ["Знову понеділок, знову будильник о шостій. Хочу у відпустку"],
        "en": ["Mondays should be illegal. Third coffee and it's only 10am"],
    },
    "news": {
        "ru": ["Работникам завода в Челябинске задерживают зарплату третий месяц, сообщает местное издание. "
               "Прокуратура начала проверку"],
        "uk": ["Працівникам шахти на Донеччині не виплатили зарплату за два місяці, повідомляє профспілка"],
        "en": ["Workers at a Detroit parts plant say they haven't been paid in six weeks, "
               "according to a union statement"],
    },
    "job_scam": {
        "ru": ["Нужны 3 человека на удалёнку, от 4000₽ в день, опыт не нужен, всё объясню. Пиши + в лс 💸"],
        "uk": ["Шукаю людей у команду, дохід від 1500 грн на день з телефону, навчання безкоштовне. Пишіть у приват"],
        "en": ["Looking for 5 people who want to make $400 a day from their phone, no experience needed. DM me"],
    },
    "employer_news": {
        "ru": ["Суд обязал перевозчика выплатить водителям 12 млн рублей долгов по зарплате, сообщает пресс-служба"],
        "uk": ["Держпраці виявила 40 неоформлених працівників на складі під Києвом, власнику загрожує штраф"],
        "en": ["Nurses at two city hospitals voted to strike next week over unpaid overtime, the union said"],
    },
    "career_advice": {
        "ru": ["Три ошибки в резюме, из-за которых рекрутер закрывает его за 10 секунд. Сохраняйте"],
        "uk": ["Як відповідати на питання про очікувану зарплату на співбесіді: поради від рекрутерки з досвідом"],
        "en": ["Tip for job hunters: tailor the first three lines of your resume to each posting, recruiters skim"],
    },
    "labour_talk": {
        "ru": ["@user, по закону отпускные должны перечислить за три дня до начала отпуска, у нас так и делают"],
        "uk": ["Ставка в нас погодинна, вихідні оплачуються у півтора раза, все чесно. Хто питав про графік — 3/3"],
        "en": ["PSA: in most states your final paycheck is due within a few days of your last shift, check your state"],
    },
}

POSITIVES = {
    PURCHASE_INTENT: {
        "ru": "Посоветуйте хороший пылесос для квартиры с котом, бюджет до 20 тысяч",
        "uk": "Порадьте ноутбук для навчання до 25 тисяч гривень, щоб не грівся",
        "en": "Can anyone recommend a good budget laptop for college? Under $600",
    },
    JOB_SEEKING: {
        "ru": "Ищу работу водителем категории C, опыт 8 лет, Екатеринбург",
        "uk": "Шукаю роботу бухгалтером, досвід 5 років, Київ або віддалено",
        "en": "I'm looking for a job as a warehouse associate in Dallas, available immediately",
    },
    EMPLOYER_COMPLAINT: {
        "ru": "Третий месяц задерживают зарплату, а начальник ещё и штрафует за опоздания на минуту",
        "uk": "Роботодавець вже два місяці не платить зарплату, а переробки змушує робити безкоштовно",
        "en": "My boss hasn't paid us for two months and makes us work unpaid overtime every weekend",
    },
}

CASES = [(kind, lang, text) for kind, by_lang in LOOKALIKES.items() for lang, texts in by_lang.items()
         for text in texts]


@pytest.mark.parametrize(("kind", "lang", "text"), CASES, ids=[f"{k}-{lang}-{n}" for n, (k, lang, _) in
                                                               enumerate(CASES)])
def test_lookalike_not_flagged(classifier, kind: str, lang: str, text: str) -> None:
    (result,) = classifier.classify([ClassifyInput(text, lang)])
    flagged = {v.signal: round(v.probability, 3) for v in result.verdicts if v.positive}
    assert not flagged, f"{kind} ({lang}) flagged as {flagged}"


def test_every_kind_and_language_covered() -> None:
    assert set(LOOKALIKES) == {"seller_ad", "happy_customer", "review", "giveaway", "idiom", "hiring", "just_hired",
                               "work_question", "customer_complaint", "venting", "news", "job_scam",
                               "employer_news", "career_advice", "labour_talk"}
    assert all(set(by_lang) == {"ru", "uk", "en"} for by_lang in LOOKALIKES.values())


@pytest.mark.parametrize(("signal", "lang"), [(s, lang) for s in SIGNALS for lang in ("ru", "uk", "en")])
def test_clear_positive_flagged_with_evidence(classifier, signal: str, lang: str) -> None:
    text = POSITIVES[signal][lang]
    (result,) = classifier.classify([ClassifyInput(text, lang)])
    assert result.lang == lang
    assert result.positive(signal), f"{signal} p={result.probability(signal):.3f}"
    assert {v.signal for v in result.verdicts if v.positive} == {signal}
    verdict = next(v for v in result.verdicts if v.signal == signal)
    assert verdict.evidence, "a positive needs evidence spans"
    for span in verdict.evidence:
        assert text[span.start:span.end] == span.text
        assert span.rule.split(".")[0] in signal
    assert verdict.reason.startswith("rules: ")
    assert "similar " + signal in verdict.reason


def test_language_is_detected_when_missing(classifier) -> None:
    (result,) = classifier.classify([ClassifyInput(POSITIVES[JOB_SEEKING]["uk"])])
    assert result.lang == "uk"
    assert result.positive(JOB_SEEKING)
