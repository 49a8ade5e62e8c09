"""The words HaluMem stories are told with: names, places, jobs, tastes, events and the fixed sentences.

Written for membench (nothing is copied from the official release). Values never contain one another
as whole-word phrases, and none of the fixed sentences uses one, so a phrase found in a text was put
there by the story; ``tests/unit/test_halumem_builder.py`` checks both. Changing any list changes what
``build_halumem`` writes: bump its ``BUILDER_VERSION``.
"""

from __future__ import annotations

# fmt: off
FEMALE_NAMES = (
    "Amara", "Celine", "Elif", "Greta", "Ines", "Keiko", "Maren", "Odette", "Rosalind", "Talia",
    "Vera", "Ximena", "Zofia", "Brigid", "Delphine", "Fiora", "Halima", "Jolene", "Leocadia", "Nerys",
)
MALE_NAMES = (
    "Bastian", "Dario", "Farid", "Hugo", "Jonas", "Lorenzo", "Nikhil", "Pavel", "Soren", "Umar",
    "Wendell", "Yusuf", "Anselm", "Cormac", "Emeric", "Gideon", "Ivo", "Kasimir", "Matthias", "Tobias",
)
LAST_NAMES = (
    "Achterberg", "Brennan", "Castellano", "Dimitriou", "Eriksen", "Fairweather", "Gallagher", "Hollis",
    "Ivanova", "Jaramillo", "Kowalczyk", "Lindqvist", "Moreau", "Nakamura", "Okonkwo", "Pellegrini",
    "Quintero", "Rasmussen", "Szabo", "Thorne", "Urquhart", "Vasquez", "Whitcombe", "Yamamoto",
    "Zielinski", "Abernathy", "Bellamy", "Delacroix", "Esposito", "Ferreira",
)
CITIES = (
    "Lisbon", "Porto", "Valencia", "Seville", "Bordeaux", "Lyon", "Marseille", "Antwerp", "Rotterdam",
    "Utrecht", "Hamburg", "Leipzig", "Dresden", "Salzburg", "Innsbruck", "Ljubljana", "Zagreb", "Krakow",
    "Gdansk", "Vilnius", "Tallinn", "Helsinki", "Bergen", "Gothenburg", "Aarhus", "Edinburgh", "Glasgow",
    "Dublin", "Galway", "Bristol", "Montreal", "Vancouver", "Halifax", "Boston", "Denver", "Austin",
    "Portland", "Seattle", "Melbourne", "Auckland",
)
JOBS = (
    "architect", "pharmacist", "veterinarian", "data analyst", "librarian", "civil engineer",
    "graphic designer", "physiotherapist", "translator", "electrician", "journalist", "accountant",
    "software developer", "marine biologist", "urban planner", "speech therapist", "photographer",
    "museum curator", "paramedic", "sommelier", "carpenter", "surveyor", "social worker", "dietitian",
    "optometrist", "geologist", "cartographer", "flight attendant", "sound engineer", "midwife",
)
EMPLOYERS = (
    "Northwind Labs", "Bluefin Logistics", "Harbor & Vale", "Crestline Health", "Lumen Analytics",
    "Redwood Civic Trust", "Saltmarsh Press", "Ironbark Studios", "Kestrel Aviation", "Meridian Bank",
    "Quarry Lane Books", "Pinecrest Clinic", "Silverline Transit", "Tidewater Energy",
    "Orchard Hill School", "Copperleaf Design", "Granite Peak Partners", "Foxglove Pharmacy",
    "Highmoor Archives", "Larkspur Media", "Mosswood Architects", "Nimbus Software", "Oakhaven Museum",
    "Riverside Veterinary Group", "Stonegate Insurance", "Thistle & Co", "Windward Surveys",
    "Yellowpine Consulting", "Zephyr Robotics", "Alder Street Studio",
)
HOBBIES = (
    "rock climbing", "birdwatching", "pottery", "chess", "salsa dancing", "trail running",
    "watercolour painting", "woodworking", "kayaking", "beekeeping", "astronomy", "origami", "fencing",
    "knitting", "calligraphy", "sailing", "archery", "gardening", "cycling", "scuba diving",
    "ice skating", "bonsai", "geocaching", "juggling", "orienteering", "mosaic making", "table tennis",
    "fly fishing", "tango", "bouldering",
)
FOODS = (
    "ramen", "paella", "lentil soup", "pad thai", "moussaka", "pierogi", "bibimbap", "falafel", "risotto",
    "ceviche", "goulash", "shakshuka", "dumplings", "lasagne", "tagine", "pho", "jambalaya", "gnocchi",
    "biryani", "empanadas", "sushi", "enchiladas", "katsu curry", "borscht", "tacos", "ratatouille",
    "laksa", "poutine", "arancini", "bouillabaisse",
)
PETS = (
    "beagle", "tabby cat", "parrot", "rabbit", "tortoise", "ferret", "hamster", "border collie",
    "cockatiel", "guinea pig", "corgi", "chinchilla",
)
PET_NAMES = (
    "Biscuit", "Pepper", "Juniper", "Waffles", "Clementine", "Nugget", "Mochi", "Pickle", "Ziggy",
    "Marbles", "Pumpkin", "Sprout", "Noodle", "Comet", "Bramble", "Pixel", "Gizmo", "Maple", "Rascal",
    "Tinsel", "Domino", "Cricket", "Pretzel", "Whiskers", "Fudge", "Luna", "Bingo", "Sherlock",
    "Quill", "Saffron",
)
EMOTIONS = (
    "excited", "nervous", "relieved", "proud", "hopeful", "overwhelmed", "grateful", "anxious",
    "thrilled", "restless", "optimistic", "homesick", "cheerful", "uneasy", "elated",
)
# fmt: on
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
#: (what the user did, the same in the infinitive, the phrase that names the event)
EVENTS = (
    ("ran a half marathon", "run a half marathon", "half marathon"),
    ("went to a jazz festival", "go to a jazz festival", "jazz festival"),
    ("took a glassblowing workshop", "take a glassblowing workshop", "glassblowing workshop"),
    ("volunteered at a beach clean-up", "volunteer at a beach clean-up", "beach clean-up"),
    ("attended a friend's wedding", "attend a friend's wedding", "wedding"),
    ("saw an opera", "see an opera", "opera"),
    ("joined a charity bike ride", "join a charity bike ride", "charity bike ride"),
    ("visited a lantern festival", "visit a lantern festival", "lantern festival"),
    ("went on a hot-air balloon ride", "go on a hot-air balloon ride", "hot-air balloon ride"),
    ("played in a pub quiz", "play in a pub quiz", "pub quiz"),
    ("gave a talk at a conference", "give a talk at a conference", "conference"),
    ("went to a film premiere", "go to a film premiere", "film premiere"),
    ("hiked a coastal trail", "hike a coastal trail", "coastal trail"),
    ("took a cooking class", "take a cooking class", "cooking class"),
    ("toured a botanical garden", "tour a botanical garden", "botanical garden"),
    ("attended a robotics expo", "attend a robotics expo", "robotics expo"),
)
BOUNDARY_QUESTIONS = (
    "What is the name of {name}'s dentist?",
    "What brand of car does {name} drive?",
    "How much rent does {name} pay each month?",
    "What was the name of {name}'s primary school?",
    "What is {name}'s blood type?",
    "Which airline did {name} fly with most recently?",
    "What is the name of {name}'s landlord?",
    "What size shoes does {name} wear?",
)
UNKNOWN_ANSWER = "Unknown; not provided by the user."

FILLER_USER = (
    "The weather has been all over the place this week, bright one hour and grey the next.",
    "I finally caught up on sleep last night, which felt wonderful.",
    "My inbox piled up again, but I'm trying not to let it get to me.",
    "I rearranged the furniture in the living room over the weekend.",
    "Do you have any tips for staying focused on a long afternoon?",
    "I've been trying to drink more water and go to bed a bit earlier.",
    "A neighbour lent me a novel and I can't put it down.",
    "The train was late again this morning, so I listened to a podcast while I waited.",
    "I spent the evening sorting old photos into albums.",
    "I'm thinking about repainting the hallway in a softer colour.",
    "Some days I just want a quiet evening with a cup of tea.",
    "I tried a new route on my morning walk and found a lovely little park.",
)
FILLER_ASSISTANT = (
    "That sounds like a nice change of pace. Small routines like that can make a big difference.",
    "I hear you. Taking things one step at a time usually helps.",
    "That's a good idea. Is there anything I can help you plan around it?",
    "It sounds like you're taking good care of yourself, which matters a lot.",
    "Thanks for telling me. Let me know how it goes!",
)
ACKS = (
    "Thank you for sharing that with me; I'll keep it in mind.",
    "That's great to know. How are you feeling about it overall?",
    "Got it! That sounds like an important part of your life.",
    "That's lovely to hear. Tell me more whenever you like.",
)

# Noise for the Long variant: generic trivia and arithmetic sharing no word with the vocabulary above.
NOISE_TRIVIA = (
    ("How many sides does a hexagon have?", "A hexagon has six sides."),
    ("Which planet is closest to the Sun?", "Mercury is the planet closest to the Sun."),
    ("What gas do plants take in for photosynthesis?", "Plants take in carbon dioxide for photosynthesis."),
    ("How many bones are in the adult human body?", "The adult human body has 206 bones."),
    ("At what temperature does water boil at sea level?", "Water boils at 100 degrees Celsius at sea level."),
    ("What is the largest ocean on Earth?", "The Pacific is the largest ocean on Earth."),
    ("Who proposed the three laws of motion?", "Isaac Newton proposed the three laws of motion."),
    ("What is the hardest natural mineral?", "Diamond is the hardest natural mineral."),
    ("How many degrees are in a right angle?", "A right angle has 90 degrees."),
    (
        "What is the speed of light in a vacuum, roughly?",
        "Light travels at about 300,000 kilometres per second.",
    ),
)
NOISE_ELEMENTS = (
    ("gold", "Au"),
    ("iron", "Fe"),
    ("sodium", "Na"),
    ("silver", "Ag"),
    ("copper", "Cu"),
    ("tin", "Sn"),
)
NOISE_UNITS = (
    ("minutes", "hours", 60),
    ("seconds", "minutes", 60),
    ("centimetres", "metres", 100),
    ("grams", "kilograms", 1000),
)

#: phrases that say what a slot's memory is about (a related memory carrying a wrong value has them).
SUBJECTS = {
    "city": ["lives in", "live in", "living in", "moved to", "moved from", "based in"],
    "job": ["works as", "work as", "works at", "job"],
    "hobby": ["enjoys", "hobby", "free time"],
    "food": ["favourite food", "favorite food"],
}
#: the first session's opening lines: (greeting with first name and city, free time with a hobby).
GREETINGS = ("Hi! I'm {}, and I live in {}.", "Hello there. Quick introduction: I'm {}, based in {}.")
FREE_TIME = ("In my free time I'm really into {}.", "Whenever I get some free time, I spend it on {}.")
#: per falsifiable slot: (the assistant's false assertion of a value, the memory point it makes).
DISTRACTOR_TEMPLATES = {
    "city": (
        "Since you live in {}, you must know the old town there really well.",
        "{} lives in {}.",
    ),
    "job": ("As a {}, you must be used to long and busy weeks.", "{} works as a {}."),
    "hobby": ("I remember how much you enjoy {} on quiet weekends.", "{} enjoys {}."),
    "food": ("You once told me {} is your absolute favourite food.", "{}'s favourite food is {}."),
}
