"""Language identification on realistic short posts, hard cases included."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from intentflow.text import LanguageGuess, detect_language, detect_language_details

CORPUS_DIR = Path(__file__).resolve().parents[3] / "data" / "classify"

RUSSIAN = [
    "Посоветуйте ноутбук для учебы до 60к, чтобы не грелся 🙏",
    "куплю б/у зимнюю резину R16, можно с дисками. Новосиб",
    "Всем привет! Кто знает хорошего мастера по ремонту стиралок в Харькове?",
    "ЗП задерживают уже третий месяц, директор говорит ждите. Что делать??",
    "Народ, где сейчас нормально купить айфон 15 без переплаты? #айфон #москва",
    "Продам велосипед Stels Navigator 700, состояние отличное, торг",
    "Подскажите плиз хороший пылесос до 15 тыс, чтобы шерсть кота собирал",
    "Нас заставляют работать по субботам бесплатно, а кто против — штрафуют",
    "Открыт к предложениям: middle python developer, удаленка, от 250к",
    "Ребят, кто-нибудь заказывал кухню в Леруа? Стоит связываться или лучше на заказ?",
    "Эх, понедельник опять 😩",
    "Ищу подработку на выходные, можно без опыта, студентка, Екатеринбург",
    "Нужен сантехник срочно!!! Течёт труба под раковиной, Ростов, Западный",
    "Кто пользуется Тинькофф Мобайл? Стоит переходить или связь так себе?",
    "Уволилась из Пятёрочки, так и не выплатили отпускные. Куда жаловаться?",
    "Спасибо всем, кто помог с переездом! Вы лучшие ❤️",
    "Какой роутер взять для двушки, чтобы вай-фай добивал до кухни?",
    "Работаю курьером в Самокате, штрафы за всё подряд, скоро уйду",
    "Посмотрите мое резюме пожалуйста, почему никто не перезванивает? https://hh.ru/resume/123",
    "Хочу поменять машину, рассматриваю Camry или K5, что посоветуете?",
    "Сегодня был на собеседовании, вроде всё прошло хорошо 🤞",
    "ПРОДАМ СРОЧНО ДИВАН, САМОВЫВОЗ, ЦЕНА ДОГОВОРНАЯ",
    "А есть тут кто из Одессы? Ищу мастера по маникюру недорого",
    "Начальник орёт на всех, премию урезали, переработки не оплачивают. Терпеть или валить?",
    "Купила вчера в Мегамарте пылесос, дома оказалось что он б/у",
    "ну такое себе кино, если честно",
    # English tech words and brand names around a few Russian words
    "ищу remote job, frontend React/TypeScript, опыт 3 года, англ B2",
    "Продам iPhone 13 Pro Max 256GB, Space Gray, Москва",
    # one Ukrainian word or Ukrainian place name inside a Russian post
    "Ищу работу водителем кат. С, опыт 5 лет, Київ или область",
    "ищу няню для ребенка 3 лет, 5/2, район Сокол, дякую за репосты",
    "Дайте контакт нормального юриста по трудовым спорам, Дніпро",
    "Ищу работу водителем, можна без опыта, звоните",
    # currency, units and abbreviations are not language evidence
    "Сдам квартиру посуточно, центр, wifi, 1500 грн",
    "Требуется продавец-консультант, з/п 40к",
]

UKRAINIAN = [
    "Порадьте, будь ласка, хороший пилосос до 5 тисяч грн 🙏",
    "Шукаю роботу бариста у Львові, досвід 1 рік",
    "Затримують зарплату вже другий місяць, керівництво мовчить. Що робити?",
    "Продам дитячий візок, стан ідеальний, Київ, Позняки",
    "Хто може підказати нормального стоматолога в Харкові? Бажано недорого",
    "Всім привіт! Я frontend розробник, шукаю нові проєкти на фріланс 💻",
    "Нас змушують працювати у вихідні без доплати, це взагалі законно?",
    "Куплю б/у айфон, не старше 12, пишіть в особисті",
    "Дякую всім за допомогу з переїздом ❤️",
    "Потрібен електрик на завтра, Одеса, Таїрова",
    "Звільнилася з АТБ, так і не заплатили відпускні. Куди скаржитись?",
    "Яку пральну машину краще взяти, Bosch чи LG? Бюджет 15к",
    "Відкритий до пропозицій: QA engineer, remote, 2 роки досвіду",
    "Сьогодні був на співбесіді, здається все пройшло добре 🤞",
    "Мабуть, треба міняти провайдера, інтернет знову лежить",
    "шукаю няню для дитини 4 роки, Вінниця, центр",
    "ПРОДАМ ТЕРМІНОВО ДИВАН, САМОВИВІЗ, ЦІНА ДОГОВІРНА",
    "Хлопці, хто брав машину через аукціон? Є сенс чи краще тут шукати?",
    "Начальник кричить на всіх, премію порізали, переробки не оплачують",
    "Де в Дніпрі можна відремонтувати ноутбук Lenovo швидко і не дорого?",
    "Підкажіть хорошого юриста по трудових спорах, будь ласка",
    "Нарешті купили квартиру 🥳",
    "Шукаємо однокімнатну квартиру в оренду, Ірпінь або Буча, до 12 тис",
    "Чи є тут хтось з Полтави? Потрібен майстер манікюру",
    "Купую iPhone 14 Pro, бюджет 25 тис, Київ",
    "Хочу купити велосипед для дитини, що порадите?",
    "ну таке собі кіно, чесно кажучи",
    "Як же я втомився від цієї роботи",
    # Surzhyk: Ukrainian with Russian words and spellings
    "шукаю роботу, можна і без опиту",
    "хто знає де купить нормальний ноут",
    "Люди, подскажите де можна купить нормальний ноут до 20 тисяч",
    "Ну шо, хто йде на концерт в суботу?",
    "Работаю в Сільпо, графік жахливий, штрафи за все підряд",
    "короче, шукаю підробіток на вечір, хто шо знає — пишіть",
    "Короче, устроївся на завод токарем, зарплата нормальна, до дому 10 хвилин. Всьо, я доволен",
    "Здам квартиру подобово, центр",
    "Нужен водій на доставку, оплата каждий тиждень, звоніть",
    "короче, взяв ноут у Фокстроті, без сюрпризів",
    "Терміново! Нужні вантажники, оплата 900 грн/зміна",
    "Продам б/у холодильник, з/п не цікавить, обмін",
    # English phrases inside a Ukrainian post
    "anyone hiring? шукаю роботу support engineer, Linux, SQL, траблшутинг, English fluent",
]

ENGLISH = [
    "Can anyone recommend a good laptop for college under $800?",
    "Looking for a job as a truck driver, CDL A, 5 years exp, open to relocation",
    "My boss hasn't paid us for two months and keeps saying next week. Is this legal?",
    "Selling my PS5 with two controllers, DM me",
    "lol this meme is so true 😂😂",
    "Need a plumber ASAP in Austin, pipe burst under the sink!!",
    "Open to work: senior backend engineer (Go, Python), remote or NYC",
    "Anyone tried the new Pixel 9? Thinking of switching from iPhone",
    "We're hiring! Junior designer, apply at https://jobs.example.com",
    "Finally got the job!!! Starting Monday 🎉",
    "What's the best budget vacuum for pet hair? Budget ~$150",
    "Our manager makes us clock out and keep working. Unpaid overtime every week",
    "recs for a dentist in Chicago that takes Delta?",
    "Mondays, am I right?",
    "looking for a cheap used car, nothing fancy, just need to get to work",
    "Is it worth upgrading from an M1 MacBook Air to M3?",
    "Freelance copywriter here, taking new clients for January 🚀 #freelance",
    "They fired my sister for being sick with a doctor's note. Unreal.",
    "Thanks everyone for the birthday wishes ❤️",
    "Where do you guys buy decent running shoes online?",
    "Moving to Berlin next month, anyone know a good moving company?",
    "Got scammed by this store, never buying from them again",
    "Need a babysitter for Friday night, 2 kids, Brooklyn",
    "Just quit my job at the warehouse, they kept cutting our hours without notice",
    "hey @mike_dev do u know any good React devs for a short gig?",
    "ISO a reliable house cleaner in Seattle, weekly",
    "idk what to get my dad for his birthday, any ideas?",
    "Rate my setup 🔥 #battlestation",
    "Spent 3 hours on hold with the bank today. Never again.",
    "The new season is a masterpiece, no notes",
    # Cyrillic words quoted inside an English post
    "How do you say 'спасибо' in Ukrainian? Is it 'дякую'?",
    "Is Nova Poshta reliable for shipping to Kyiv? Paying $20 per parcel",
    "Vinohradská dental clinic: clean, good English, pricey. 4/5",
    "Senior Go developer available next month, remote",
]

OTHER = [
    "Ich suche eine günstige Wohnung in Berlin, hat jemand Tipps?",
    "Suche Arbeit als Fahrer, habe 10 Jahre Erfahrung",
    "Szukam pracy jako kierowca, mam doświadczenie",
    "Czy ktoś poleci dobrego mechanika w Warszawie?",
    "Mam pytanie, czy ktos zna dobrego dentyste w Krakowie?",
    "Je cherche un appartement à Lyon, des conseils ?",
    "Busco trabajo de camarero en Madrid, tengo experiencia",
    "Qualcuno sa dove comprare un buon portatile a Milano?",
    "Procuro emprego de motorista em Lisboa",
    "İş arıyorum, İstanbul'da şoför olarak çalışabilirim",
    "Hledám práci jako řidič v Praze",
    "Ik zoek werk als chauffeur in Amsterdam",
    "Jag söker jobb i Stockholm",
    "Tôi đang tìm việc làm ở Hà Nội",
    "Жұмыс іздеймін, тәжірибем бар, Алматы",
    "Сәлеметсіз бе! Ноутбук сатып алғым келеді, кеңес беріңізші",
    "Тражим посао, имам искуство као возач, јавите се",
    "Търся работа като шофьор в София",
    "Шукаю працу ў Мінску, дзякуй за дапамогу",
    "我想买一台新的笔记本电脑，有推荐吗？",
    "新しいノートパソコンを買いたいです。おすすめは？",
    "새 노트북 추천해 주세요",
    "أبحث عن عمل كسائق في دبي",
    "אני מחפש עבודה בתל אביב",
    "Ψάχνω δουλειά στην Αθήνα",
    "ვეძებ სამსახურს თბილისში",
    "मुझे दिल्ली में नौकरी चाहिए",
    "😂😂😂🔥🔥",
    "👍",
    "+1",
    "https://t.me/somechannel",
    "100500 !!! 💯",
]

RUSSIAN_TRANSLIT = [
    "kuplyu noutbuk, posovetuite",
    "ishchu rabotu voditelem, zp ot 80k",
    "podskazhite gde kupit' pylesos",
    "privet vsem, kto znaet horoshego mastera po remontu telefonov?",
    "ishu rabotu, mozhno bez opyta, srochno",
    "Prodam velosiped, sostoyanie otlichnoe, torg",
    "spasibo vsem za pomosch!!!",
    "nuzhen elektrik na zavtra, Moskva",
    "zp zaderzhivayut uzhe tretiy mesyats, chto delat'?",
    "kto-nibud' znaet normal'nyy servis v Pitere?",
    "hochu kupit ajfon, no deneg net 😅",
    "posovetujte horoshij telefon do 20k pliz",
    "ya ishchu podrabotku na vyhodnye",
    "gde mozhno nedorogo poest' v tsentre?",
    "rebyata, pomogite nayti rabotu, ochen nado",
    "u nas opyat ne platyat zarplatu, direktor propal",
    "Otkryt k predlozheniyam, python razrabotchik, udalenka",
    "skolko stoit zamena ekrana na iphone 13?",
    "kupil by noutbuk, no ne znayu kakoy luchshe",
    "Vsem privet! Kakie est' varianty raboty v Kazani?",
]


@pytest.mark.parametrize("text", RUSSIAN)
def test_russian(text: str) -> None:
    guess = detect_language_details(text)
    assert (guess.lang, guess.transliterated) == ("ru", False)


@pytest.mark.parametrize("text", UKRAINIAN)
def test_ukrainian(text: str) -> None:
    guess = detect_language_details(text)
    assert (guess.lang, guess.transliterated) == ("uk", False)


@pytest.mark.parametrize("text", ENGLISH)
def test_english(text: str) -> None:
    guess = detect_language_details(text)
    assert (guess.lang, guess.transliterated) == ("en", False)


@pytest.mark.parametrize("text", OTHER)
def test_other_languages_scripts_and_no_text(text: str) -> None:
    assert detect_language(text) == "other"


@pytest.mark.parametrize("text", RUSSIAN_TRANSLIT)
def test_transliterated_russian_is_russian(text: str) -> None:
    guess = detect_language_details(text)
    assert (guess.lang, guess.transliterated) == ("ru", True)


def test_transliterated_ukrainian_is_ukrainian() -> None:
    guess = detect_language_details("shukayu robotu v Kyievi, dyakuyu")
    assert (guess.lang, guess.transliterated) == ("uk", True)


def test_confidence_grows_with_evidence() -> None:
    weak = detect_language_details("Продам")
    strong = detect_language_details("Подскажите, где можно купить нормальный ноутбук, очень нужно")
    assert weak.lang == strong.lang == "ru"
    assert 0.0 < weak.confidence < 0.5 < strong.confidence <= 1.0


def test_result_shape() -> None:
    guess = detect_language_details("Шукаю роботу")
    assert isinstance(guess, LanguageGuess)
    assert guess == LanguageGuess("uk", guess.confidence, False)


@pytest.mark.parametrize("text", ["", " \n\t ", "\u200b\u200b", "...", "123 456"])
def test_texts_without_letters_are_other_with_full_confidence(text: str) -> None:
    assert detect_language_details(text) == LanguageGuess("other", 1.0, False)


def test_any_input_gives_a_valid_answer() -> None:
    rng = random.Random(7)
    alphabet = "абвгдеёжзийклмнопрстуфхцчшщъыьэюяіїєґabcxyz'’ -😀\u200b\ufffd\n一あ"
    for _ in range(2_000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 120)))
        guess = detect_language_details(text)
        assert guess.lang in {"ru", "uk", "en", "other"}
        assert 0.0 <= guess.confidence <= 1.0
        assert guess == detect_language_details(text)  # deterministic, cache-independent


def test_agrees_with_labelled_corpus() -> None:
    """The training corpus carries hand-set languages; the detector should rarely disagree."""
    files = sorted(CORPUS_DIR.glob("train_*.jsonl")) + sorted(CORPUS_DIR.glob("dev_*.jsonl"))
    if not files:
        pytest.skip("no labelled corpus in data/classify")
    rows = [json.loads(line) for f in files for line in f.read_text("utf-8").splitlines() if line.strip()]
    rows = [r for r in rows if r.get("lang") in {"ru", "uk", "en"}]
    wrong = [(r["lang"], detect_language(r["text"]), r["text"]) for r in rows
             if detect_language(r["text"]) != r["lang"]]
    assert len(wrong) <= 0.03 * len(rows), wrong
