"""Hand-made cues for language identification of short posts (see language.py).

Word lists hold only words that are frequent in posts AND absent (or rare) in the
competing languages of the same script; shared words such as "на", "не", "для" or
"the"/"die" collisions are left out on purpose. Lookups are lowercase, with "ё"
folded to "е" and, for Latin words, apostrophes removed ("don't" -> "dont").
"""

from __future__ import annotations


def _weighted(weight: float, words: str) -> dict[str, float]:
    return dict.fromkeys(words.split(), weight)


def _merge(*parts: dict[str, float]) -> dict[str, float]:
    merged: dict[str, float] = {}
    for part in parts:
        merged.update(part)
    return merged


STRONG, MEDIUM, WEAK = 2.0, 1.5, 1.0

RU_WORDS = _merge(
    _weighted(STRONG, """
        и что чтобы это этот эта эти этого этой этом эту как какой какая какое какие какую
        каких где кто когда если очень тоже также только даже уже еще или либо меня мне него
        нее ней они он она оно его ее их свой свои своих своей есть был была было были
        будет будут будем нужно нужен нужна нужны надо можно нельзя сейчас сегодня вчера
        спасибо пожалуйста привет здравствуйте всем нет почему зачем сколько ничего вот ли бы
        ни хотя тогда всегда здесь теперь вообще кстати ребята ребят подскажите
        посоветуйте помогите посоветуете порекомендуйте ищу ищем ищет ищете работу работа
        работы работе работать работаю работает опыт опыта опытом человек деньги денег год
        года лет неделю месяц месяца хороший хорошая хорошее хорошего хорошо другой другая
        другие который которая которое которые которых мой моей моего от из под после между
        около но может могу хочет знает чем тем чего себя пишите звоните срочно город области
        нибудь много немного пока потом сразу конечно например вместе никто никогда сюда
        туда куда откуда потому чтоб ведь лучше хуже больше меньше сдам посуточно
    """),
    # Fillers that Ukrainian colloquial speech borrows as well.
    _weighted(WEAK, "с со к ко об во да короче типа"),
)

UK_WORDS = _merge(
    _weighted(STRONG, """
        і й що щоб це цей ця ці цього цієї цьому цим цих як але або чи бо вже ще де хто коли
        якщо дуже теж також тільки лише навіть мене мені нього неї них він вона воно вони
        його її їх їй свій свої своїх своєї є був була було були буде будуть будемо
        треба потрібно потрібен потрібна потрібні можна зараз сьогодні вчора дякую будь ласка
        привіт вітаю всім ні немає нема чому навіщо скільки нічого щось хтось десь ось тепер
        завжди тоді хоча взагалі зовсім мабуть хлопці підкажіть порадьте допоможіть порадите
        шукаю шукаємо шукає шукаєте шукати роботу робота роботи роботі роботою працювати
        працюю працює досвід досвіду людина гроші грошей рік року років тиждень місяць гарний
        гарна добре інший інша інші який яка яке які якого якої якому яку яких мій мого моєї
        від із зі між біля після під з знає може можу хоче чим тим чого пишіть дзвоніть
        терміново місто області гривень тисяч тис дивно трохи багато поки тобто звісно
        звичайно наприклад разом ніхто ніколи одразу потім куди звідки сюди туди краще гірше
        більше менше щодо адже йде йду йдемо здам подобово хоч роки
    """),
    _weighted(WEAK, "та шо"),
)

# Kazakh, Belarusian, Bulgarian, Serbian and Macedonian words that look plausible to
# a ru/uk scorer (their distinctive letters are handled separately).
CYRILLIC_OTHER_WORDS = _weighted(STRONG, """
    като търся със съм сме сте какво къде кой защо трябва има няма нещо днес сега
    благодаря здравейте моля се као посао имам није који тражим гэта дзякуй вельмі
    трэба калі таксама мен керек емес рахмет және
""")

EN_WORDS = _merge(
    _weighted(MEDIUM, """
        the an and or but to of in at for with from about as is are was were be been am i im
        ive ill id it its this that these those there here what which who whom whose where
        when why how can could would should will may might must does did dont doesnt didnt
        cant cannot wont isnt arent wasnt havent have has had get got my me you your youre we
        our us they their them he his him she her not yes any some anyone anybody someone
        somebody anything something everyone everything nothing all just really very so too
        also still if then than because only even more most much many new good best better
        great need needs want wants looking look buy selling sell job jobs work working hiring
        hire boss salary pay paid recommend please thanks thank help know guys lol lmao omg
        pls plz thx btw tbh imo idk dm asap do
    """),
    # Headline-style ads and bios often carry no function words at all.
    _weighted(WEAK, """
        next month week year day days time today tomorrow tonight weekend morning night price
        sale cheap used free available remote experience hours people company phone car
        apartment rent room city near urgent urgently offer offers open full part shift team
        manager driver developer engineer designer money late unpaid fired quit store shop
        delivery order advice ideas thoughts worth around budget cost costs bought seeking
        old nice bad love hate happy
    """),
    _weighted(WEAK, "a no on by"),
)

RU_TRANSLIT_WORDS = _merge(
    _weighted(STRONG, """
        chto shto chtoby shtoby eto etot kak kakoy kakoi kakoj kakaya kakaja kakie kakuyu
        kakuju gde kto kogda esli ochen tozhe takzhe tolko dazhe uzhe uje eshche eshe esche
        eshhe ili mne menya menja tebya tebja tebe nam vam oni ona ego ikh svoy svoi svoj
        byl byla bylo byli budet budu nuzhno nuzhen nuzhna nado mozhno mojno mozhet mogu nelzya
        seychas sejchas seichas segodnya segodnja zavtra vchera spasibo pozhaluysta pozhalujsta
        pojaluysta pozhalusta privet privetik zdravstvuyte zdravstvujte vsem pochemu zachem
        skolko nichego vot tut tak vy bez dlya dlja ot iz posle cherez mezhdu okolo kuplyu
        kuplju kuplu kupit kupil kupila kupi kupite prodam prodayu prodaju prodaetsya ishchu ishu
        ischu ishhu ishchem ishem ischem rabotu rabota raboty rabote rabotat rabotayu rabotaju
        podrabotku podrabotka podskazhite podskajite podskazhi posovetuite posovetujte
        posovetuyte posovetuj posovetuy pomogite pomogi zp zarplata zarplatu zarplaty opyt opyta
        voditel voditelem voditelya noutbuk noutbuka noutbuki pylesos horoshiy khoroshiy
        horoshij horoshego horoshuyu normalnyy normalnyj normalny normalno horosho khorosho
        nedorogo deshevo dorogo srochno tys tysyach rubley deneg dengi gorod nedeli mesyats
        mesyatsa goda lyudi chelovek rebyata rebyat bratan znaet znayu znaju nibud hochu khochu
        hotel hotela delat nas opyat pliz
    """),
    _weighted(MEDIUM, "ne"),
    _weighted(WEAK, "na po za ya da nu ni v est rub"),
)

UK_TRANSLIT_WORDS = _weighted(STRONG, """
    shukayu shukaju shukaiu shcho tse duzhe mozhna treba dyakuyu dyakuju diakuiu pryvit
    pidkazhit pidkazhite khto robotu roboty yakyi yakyy yakyj zaraz hrn hryven hryvnia
""")

LATIN_OTHER_WORDS = _merge(
    _weighted(STRONG, """
        ich und der das ist nicht ein eine einen einem einer auf sie wir von dem des
        auch wie wer noch nur kann gibt bei nach oder aber sehr mein meine dein habe sind
        wird werden jemand suche suchen neue neuen kaufen arbeit bitte danke hallo gerne heute
        jetzt schon mehr alle viel diese dieser zum zur vom als weil dass guten morgen
        jest nie ze jak czy szukam szukamy pracy praca kupie ktos polecicie polecacie dla
        przez tylko bardzo ktory jaki jaka moze gdzie kiedy mnie moj moja jestem chce
        potrzebuje czesc dzieki prosze witam siema jako
        les et je tu il nous vous une pour avec dans pas que qui cherche travail
        acheter bonjour merci mais tres sur aux du cette mes suis
        el los las una por para busco trabajo comprar hola gracias muy pero como donde quiero
        necesito alguien tengo
        di che sono cerco lavoro della ciao grazie molto anche qualcuno buon
        nao uma procuro emprego trabalho obrigado voce muito
        ik het een niet zoek werk ook maar voor jag och jeg ikke
        bir ve bu icin cok ile gibi daha saya yang untuk tidak mencari kerja
    """),
    _weighted(MEDIUM, "de le en un es den"),
    _weighted(WEAK, "die bin wo co ma mam e y em con del var la os mit gut"),
)

# English loanwords that keep their accents and must not count as another language.
LATIN_ACCENTED_LOANWORDS = frozenset({
    "café", "cafés", "résumé", "naïve", "fiancé", "fiancée", "cliché", "déjà", "entrée", "crème",
    "über", "jalapeño", "piñata", "señor", "açaí",
})

# Letters that ru and uk never use: Kazakh, Belarusian, Serbian/Macedonian.
CYRILLIC_OTHER_LETTERS = frozenset("әғқңөұүһӏўђјљњћџѓќѕ")
RU_LETTERS = frozenset("ыэъё")
UK_LETTERS = frozenset("іїєґ")

# Word endings, checked longest first, only for words missing from the word lists.
RU_SUFFIXES = {
    "ая": 1.0, "яя": 1.0, "ое": 1.0, "ее": 0.5, "ие": 1.0, "ия": 1.0, "ии": 1.0,
    "ой": 0.75, "шь": 1.5, "чь": 1.0, "тся": 1.5, "ают": 1.5, "яют": 1.5, "ость": 1.0,
    "ости": 1.0, "его": 0.75, "ать": 0.5, "ять": 0.5, "еть": 0.5, "ов": 0.5, "ет": 0.5,
    "ит": 0.5, "ут": 0.5, "ил": 0.5, "ел": 0.5, "лся": 1.0, "ец": 0.75,
}
UK_SUFFIXES = {
    "ння": 1.5, "ати": 1.0, "ити": 1.0, "ути": 1.0, "яти": 1.0, "тися": 1.5, "емо": 1.0,
    "имо": 0.5, "ою": 0.75, "ний": 0.5, "ють": 1.5, "уть": 0.5, "ець": 1.5, "вся": 1.0,
    # past tense "взяв", "купив" (Russian "-л")
    "ав": 0.75, "ив": 0.75, "яв": 0.75,
    # Russian spells "ый" after these consonants ("новый"); "ний" is weaker because of
    # Russian soft adjectives ("синий", "последний").
    "бий": 0.75, "вий": 0.75, "дий": 0.75, "зий": 0.75, "лий": 0.75, "мий": 0.75,
    "пий": 0.75, "рий": 0.75, "сий": 0.75, "тий": 0.75, "фий": 0.75,
}
RU_TRANSLIT_SUFFIXES = {
    "yu": 1.0, "ju": 0.5, "iu": 0.5, "sya": 1.5, "sja": 1.5, "aya": 1.0, "aja": 0.5,
    "oye": 1.0, "noe": 1.0, "voe": 1.0, "koe": 1.0, "loe": 1.0, "ogo": 1.0, "ego": 0.5,
    "omu": 1.0, "emu": 0.5, "ykh": 1.5, "ikh": 1.5, "iy": 1.0, "yy": 1.5, "yi": 1.0,
    "yj": 1.5, "ij": 1.0, "oj": 1.0, "ej": 0.5, "uj": 1.0, "zhite": 1.5, "shite": 1.5,
    "gite": 1.5, "chite": 1.5, "uite": 1.5, "uyte": 1.5, "ujte": 1.5, "ayte": 1.5,
    "ajte": 1.5, "aite": 1.5, "eite": 1.5, "eyte": 1.5, "ejte": 1.5, "ovat": 1.0,
    "ivat": 1.0, "yvat": 1.0, "nye": 1.0, "ami": 0.5, "ov": 0.5, "iya": 1.0, "iye": 1.0,
    "nie": 0.5, "yam": 1.0, "yat": 1.0, "chik": 1.0,
}
EN_SUFFIXES = {
    "ing": 1.0, "tion": 1.5, "sion": 1.0, "ness": 1.0, "ment": 1.0, "ful": 1.0,
    "less": 0.5, "ight": 1.5, "ly": 0.5, "ed": 0.5, "er": 0.5, "th": 0.5,
}

# Letter sequences anywhere in a word, for words missing from the word lists.
UK_INFIXES = {"ськ": 1.0, "цьк": 1.0, "ьо": 1.0}
RU_TRANSLIT_INFIXES = {"shch": 1.5, "zh": 1.0, "kh": 1.0, "yu": 0.5}
EN_INFIXES = {"th": 0.5, "wh": 0.5, "ck": 0.5, "ee": 0.3, "oo": 0.3, "ea": 0.3, "w": 0.5}
LATIN_OTHER_INFIXES = {"rz": 1.0, "sz": 1.0, "cz": 1.0}

# Contraction endings after an apostrophe ("it's", "we'll"); any other apostrophe in a
# Latin word is a transliterated soft sign ("kupit'", "normal'nyy").
EN_CONTRACTIONS = frozenset({"s", "m", "re", "ve", "ll", "d"})
