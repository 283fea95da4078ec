"""Project-written player names for the simulated matches, plus a maker of names outside those lists.

No real line-ups are used: first names and surnames are written here per nation, and a squad is
drawn from them with a seeded `random.Random`. `outside_name` invents names from syllables so that
text prompts also carry names the model never saw in a squad (it must learn the event, not the name).
"""

from __future__ import annotations

import random

# surnames, men's first names, women's first names; all invented combinations
NATIONS: dict[str, tuple[list[str], list[str], list[str]]] = {
    "Australia": (
        [
            "Hartley",
            "Mackay",
            "Brennan",
            "Caldwell",
            "Whitfield",
            "Dowling",
            "Prentice",
            "Maddox",
            "Kerrigan",
            "Sutcliffe",
            "Lockyer",
            "Tremain",
            "Farrow",
            "Gilchrist",
            "Boland",
            "Coulter",
        ],
        ["Jack", "Mitch", "Cam", "Travis", "Josh", "Nathan", "Riley", "Beau", "Lachlan", "Tom"],
        ["Ellie", "Meg", "Alyssa", "Tahlia", "Beth", "Annabel", "Grace", "Phoebe", "Darcie", "Kim"],
    ),
    "England": (
        [
            "Ashworth",
            "Pembroke",
            "Radcliffe",
            "Thornbury",
            "Whitaker",
            "Hollins",
            "Crawley",
            "Pryce",
            "Stanhope",
            "Fenwick",
            "Ollerton",
            "Barraclough",
            "Dunmore",
            "Kettering",
            "Moorby",
            "Lydgate",
        ],
        ["Harry", "Ollie", "Joe", "Zak", "Ben", "Chris", "Jamie", "Will", "Rehan", "Gus"],
        ["Nat", "Sophie", "Heather", "Amy", "Tammy", "Lauren", "Kate", "Issy", "Danni", "Freya"],
    ),
    "India": (
        [
            "Deshpande",
            "Raghavan",
            "Kulkarni",
            "Chauhan",
            "Iyengar",
            "Bhatnagar",
            "Menon",
            "Saxena",
            "Thakur",
            "Rathore",
            "Pillai",
            "Joshi",
            "Banerjee",
            "Nair",
            "Gaikwad",
            "Sodhi",
        ],
        ["Arjun", "Rohit", "Vikram", "Shubman", "Ravi", "Karun", "Akash", "Mayank", "Ishan", "Dhruv"],
        ["Smriti", "Harleen", "Deepti", "Shafali", "Radha", "Pooja", "Renuka", "Jemimah", "Sneh", "Uma"],
    ),
    "Pakistan": (
        [
            "Qureshi",
            "Abbasi",
            "Siddiqui",
            "Malik",
            "Durrani",
            "Rizvi",
            "Khattak",
            "Afridi",
            "Butt",
            "Zaidi",
            "Hashmi",
            "Niazi",
            "Chaudhry",
            "Lodhi",
            "Tareen",
            "Mirza",
        ],
        ["Imran", "Shadab", "Fakhar", "Haris", "Naseem", "Abdullah", "Saim", "Usama", "Zaman", "Asad"],
        ["Nida", "Bismah", "Aliya", "Sidra", "Fatima", "Muneeba", "Diana", "Omaima", "Tuba", "Nashra"],
    ),
    "South Africa": (
        [
            "van Wyk",
            "Botha",
            "Nkosi",
            "Pretorius",
            "Mokoena",
            "Jansen",
            "du Toit",
            "Steyn",
            "Dlamini",
            "Erasmus",
            "Coetzee",
            "Mthembu",
            "Viljoen",
            "Ngidi",
            "Fourie",
            "Roux",
        ],
        ["Kagiso", "Aiden", "Temba", "Quinton", "Lungi", "Marco", "Tony", "Wiaan", "Keshav", "Ryan"],
        ["Laura", "Marizanne", "Chloe", "Nadine", "Sune", "Anneke", "Ayabonga", "Tazmin", "Nonku", "Mignon"],
    ),
    "New Zealand": (
        [
            "Tamihana",
            "McAllister",
            "Ruddock",
            "Sinclair",
            "Kereama",
            "Blundell",
            "Fairbairn",
            "Wheeler",
            "Henare",
            "Latimer",
            "Cosgrove",
            "Pohatu",
            "Dunstan",
            "Marsden",
            "Ngata",
            "Kirkwood",
        ],
        ["Kane", "Devon", "Finn", "Matt", "Glenn", "Kyle", "Rachin", "Will", "Daryl", "Mark"],
        ["Sophie", "Amelia", "Suzie", "Lea", "Maddy", "Jess", "Rosemary", "Brooke", "Hayley", "Eden"],
    ),
    "Sri Lanka": (
        [
            "Wickramasinghe",
            "Jayasuriya",
            "Perera",
            "Fernando",
            "Bandara",
            "Gunawardena",
            "Rajapakse",
            "Senanayake",
            "Dissanayake",
            "Herath",
            "Karunaratne",
            "Mendis",
            "Silva",
            "Kumara",
            "Ranasinghe",
            "Liyanage",
        ],
        ["Dimuth", "Kusal", "Angelo", "Dasun", "Wanindu", "Pathum", "Charith", "Dushmantha", "Maheesh", "Asitha"],
        ["Chamari", "Harshitha", "Nilakshi", "Kavisha", "Inoka", "Sugandika", "Hasini", "Oshadi", "Vishmi", "Achini"],
    ),
    "West Indies": (
        [
            "Holder",
            "Braithwaite",
            "Gabriel",
            "Joseph",
            "Pooran",
            "Chanderpaul",
            "Seales",
            "Greaves",
            "Mayers",
            "Roach",
            "Hetmyer",
            "Athanaze",
            "Motie",
            "Da Silva",
            "Forde",
            "Layne",
        ],
        ["Jason", "Kraigg", "Shai", "Alzarri", "Kemar", "Jayden", "Kyle", "Roston", "Romario", "Shamar"],
        ["Hayley", "Stafanie", "Deandra", "Chinelle", "Shemaine", "Afy", "Zaida", "Karishma", "Aaliyah", "Shamilia"],
    ),
    "Bangladesh": (
        [
            "Hossain",
            "Rahman",
            "Islam",
            "Chowdhury",
            "Ahmed",
            "Mahmud",
            "Sarkar",
            "Talukdar",
            "Mirza",
            "Haque",
            "Kabir",
            "Miraz",
            "Akhter",
            "Shanto",
            "Uddin",
            "Mazumder",
        ],
        ["Tamim", "Mushfiq", "Litton", "Taskin", "Mehidy", "Najmul", "Taijul", "Shoriful", "Towhid", "Zakir"],
        ["Nigar", "Fargana", "Marufa", "Rumana", "Sobhana", "Nahida", "Jahanara", "Sultana", "Ritu", "Fahima"],
    ),
    "Afghanistan": (
        [
            "Zadran",
            "Shinwari",
            "Stanikzai",
            "Naib",
            "Omarzai",
            "Farooqi",
            "Ahmadzai",
            "Safi",
            "Mangal",
            "Hashmatullah",
            "Noori",
            "Karimi",
            "Wardak",
            "Popal",
            "Sultani",
            "Yousafzai",
        ],
        ["Rashid", "Mujeeb", "Ibrahim", "Rahmat", "Naveen", "Fazal", "Azmat", "Gulbadin", "Noor", "Ikram"],
        ["Roya", "Zarlasht", "Nahida", "Mariam", "Palwasha", "Shabnam", "Firooza", "Tahmina", "Benafsha", "Laila"],
    ),
    "Ireland": (
        [
            "O'Brien",
            "Balbirnie",
            "McCarthy",
            "Delany",
            "Tector",
            "Dockrell",
            "Adair",
            "Kennedy",
            "Mooney",
            "Rooney",
            "Gallagher",
            "Doheny",
            "Flynn",
            "Cassidy",
            "McBride",
            "Kehoe",
        ],
        ["Paul", "Harry", "Andy", "Curtis", "Lorcan", "Barry", "Conor", "Gareth", "Fionn", "Neil"],
        ["Gaby", "Laura", "Orla", "Leah", "Arlene", "Aimee", "Louise", "Cara", "Jane", "Ava"],
    ),
    "Zimbabwe": (
        [
            "Muzarabani",
            "Ervine",
            "Masakadza",
            "Chakabva",
            "Mavuta",
            "Ngarava",
            "Raza",
            "Madhevere",
            "Chivanga",
            "Marumani",
            "Nyauchi",
            "Gumbie",
            "Mutombodzi",
            "Burl",
            "Taylor",
            "Chatara",
        ],
        ["Blessing", "Sean", "Craig", "Regis", "Tendai", "Wessly", "Richard", "Tinashe", "Brian", "Clive"],
        ["Mary-Anne", "Chipo", "Josephine", "Precious", "Nomvelo", "Kelis", "Loryn", "Audrey", "Ashley", "Francisca"],
    ),
}

# Syllables for invented names that appear in no squad: keep the model from keying on known names.
_ONSETS = [
    "b",
    "d",
    "g",
    "h",
    "j",
    "k",
    "l",
    "m",
    "n",
    "p",
    "r",
    "s",
    "t",
    "v",
    "w",
    "z",
    "br",
    "ch",
    "dr",
    "gr",
    "kh",
    "sh",
    "st",
    "th",
    "tr",
]
_VOWELS = ["a", "e", "i", "o", "u", "aa", "ee", "ai", "ou"]
_CODAS = ["", "", "n", "r", "s", "l", "m", "th", "ck", "t"]


def outside_name(rng: random.Random) -> str:
    """An invented surname (2-3 syllables), e.g. 'Brandell' or 'Koshimar'."""
    parts = [rng.choice(_ONSETS) + rng.choice(_VOWELS) for _ in range(rng.choice((2, 2, 3)))]
    name = "".join(parts) + rng.choice(_CODAS)
    return name[:1].upper() + name[1:]


def squad(rng: random.Random, nation: str, gender: str) -> list[str]:
    """Eleven distinct 'First Surname' names in batting order; women's squads use women's first names."""
    surnames, men, women = NATIONS[nation]
    firsts = women if gender == "female" else men
    chosen = rng.sample(surnames, 11)
    return [f"{rng.choice(firsts)} {s}" for s in chosen]


def surname(full: str) -> str:
    """The name commentators and scorers use: everything after the first name ('van Wyk', 'Holder')."""
    parts = full.split(" ", 1)
    return parts[1] if len(parts) == 2 else full


def all_known_surnames() -> set[str]:
    return {s for surnames, _, _ in NATIONS.values() for s in surnames}
