"""Word lists and sentence templates of the offline ConvoMem builder (written for membench).

Every item is about one *subject*: a code word and a kind, written with capitals ("Project Falcon",
"the Falcon Offsite") so that a question names its subject the way the release's questions name
projects, accounts and events. The offline reader relies on three properties the lists keep, and
``tests/unit/test_convomem_builder.py`` checks them:

- a code word occurs nowhere else (no value, template, persona or chat line contains it as a word),
  so a sentence names a subject only when it is about that subject;
- each question's words outside its subject (its *attribute*: "budget code", "time slot") occur in
  every statement template of that attribute, so a statement answers its question word for word;
- decoy lines (a subject mentioned with no fact) carry no value, so they can never state a key.

Templates hold ``{subject}`` (the subject as written mid-sentence) and ``{value}`` (one value; for a
constraint, its ``fragment``); the builder capitalises the first letter of every sentence.
"""

from __future__ import annotations

from dataclasses import dataclass

# ---------------------------------------------------------------- personas


ROLES: tuple[str, ...] = (
    "sales manager",
    "IT administrator",
    "marketing lead",
    "customer success manager",
    "product manager",
    "procurement specialist",
    "finance analyst",
    "operations director",
    "solutions architect",
    "HR business partner",
)
PERSONA_FIRST_NAMES: tuple[str, ...] = (
    "Maya", "Daniel", "Priya", "Marcus", "Elena", "Tomas", "Aisha", "Kenji", "Sofia", "Owen", "Leila",
    "Rafael",
)  # fmt: skip
PERSONA_LAST_NAMES: tuple[str, ...] = (
    "Chen", "Alvarez", "Novak", "Okafor", "Lindqvist", "Haddad", "Moreau", "Tanaka", "Brennan", "Kowalski",
    "Mendes", "Varga",
)  # fmt: skip
COMPANIES: tuple[str, ...] = (
    "Northwind Analytics",
    "Bluepeak Software",
    "Corvane Health",
    "Tessera Logistics",
    "Brightwell Insurance",
    "Halden Manufacturing",
    "Lumora Retail",
    "Axton Energy",
)

# ---------------------------------------------------------------- subjects

#: code words of subjects; each persona uses each at most once (one subject, one item or filler topic).
CODE_WORDS: tuple[str, ...] = (
    "Falcon", "Heron", "Osprey", "Orion", "Vega", "Altair", "Lyra", "Atlas", "Beacon", "Ember", "Glacier",
    "Meridian", "Nimbus", "Quartz", "Raven", "Sable", "Talon", "Topaz", "Willow", "Zephyr", "Aurora",
    "Borealis", "Cascade", "Everest", "Fjord", "Granite", "Horizon", "Lantern", "Mosaic", "Nova", "Opal",
    "Pinnacle", "Quasar", "Redwood", "Sequoia", "Tundra", "Vertex", "Wren", "Yukon", "Zenith", "Basalt",
    "Canyon", "Dune", "Flint", "Garnet", "Halcyon", "Indigo", "Jade", "Kodiak", "Lotus", "Magnolia",
    "Nebula", "Obsidian", "Prism", "Quill", "Sierra", "Tempest", "Whistler", "Xenon", "Yarrow", "Zircon",
    "Acorn", "Birch", "Comet", "Dahlia", "Fern", "Gale", "Larch", "Maple", "Nectar", "Pebble", "Spruce",
    "Thistle", "Umbra", "Walnut", "Alder", "Bison", "Condor", "Egret", "Finch", "Gazelle", "Ibis", "Koala",
    "Lynx", "Marlin", "Narwhal", "Otter", "Panther", "Puffin", "Quokka", "Tern", "Urchin", "Viper",
    "Walrus", "Zebra", "Badger", "Cougar", "Dingo", "Ermine", "Ferret", "Gecko", "Impala", "Jaguar",
    "Lemur", "Mink", "Newt", "Ocelot", "Pelican", "Raccoon", "Stork", "Toucan", "Vole", "Cobalt", "Onyx",
    "Juniper", "Cedar", "Bramble", "Cinder", "Kestrel", "Saffron", "Tamarind", "Galena", "Beryl", "Cypress",
    "Hemlock", "Sorrel", "Juno", "Rigel", "Deneb",
)  # fmt: skip

# ---------------------------------------------------------------- values


def _people() -> tuple[str, ...]:
    first = (
        "Dana", "Felix", "Grace", "Hugo", "Imani", "Jonah", "Keira", "Liam", "Mira", "Nikhil", "Olga",
        "Pavel", "Quinn", "Rosa", "Samir", "Tara", "Uma", "Victor", "Wendy", "Xavier", "Yara", "Zane",
        "Bianca", "Caleb",
    )  # fmt: skip
    last = (
        "Abbott", "Banerjee", "Castillo", "Dubois", "Eriksen", "Fischer", "Gallo", "Hughes", "Ibrahim",
        "Jansen", "Kaur", "Larsen", "Mbeki", "Nakamura", "Ortega", "Petrov", "Quigley", "Rossi", "Sato",
        "Thornton", "Ueda", "Vasquez", "Whitaker", "Young",
    )  # fmt: skip
    return tuple(f"{f} {last_name}" for f in first for last_name in last)


def _companies(prefixes: tuple[str, ...], suffixes: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(f"{p} {s}" for p in prefixes for s in suffixes)


_MONTHS = (
    "January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
    "November", "December",
)  # fmt: skip

CITIES: tuple[str, ...] = (
    "Lisbon", "Denver", "Austin", "Toronto", "Dublin", "Singapore", "Madrid", "Chicago", "Boston",
    "Seattle", "Prague", "Vienna", "Oslo", "Melbourne", "Nairobi", "Montreal", "Phoenix", "Atlanta",
    "Zurich", "Copenhagen", "Helsinki", "Warsaw", "Budapest", "Osaka", "Seoul", "Lima", "Bogota",
    "Santiago", "Cairo", "Dubai", "Marseille", "Porto", "Seville", "Krakow", "Tallinn", "Reykjavik",
    "Edinburgh", "Glasgow", "Manchester", "Rotterdam", "Antwerp", "Lyon", "Munich", "Hamburg", "Milan",
    "Florence", "Athens", "Istanbul",
)  # fmt: skip

TOOLS: tuple[str, ...] = (
    "Tableau", "Looker", "Asana", "Jira", "Notion", "Miro", "Figma", "Airtable", "Zendesk", "HubSpot",
    "Marketo", "Snowflake", "Databricks", "Fivetran", "Okta", "Jamf", "ServiceNow", "Workday", "Greenhouse",
    "Expensify", "Docusign", "Calendly", "Loom", "Webex", "Confluence", "Trello", "Smartsheet", "Grafana",
    "Datadog", "PagerDuty", "Splunk", "Gong",
)  # fmt: skip

METRICS: tuple[str, ...] = (
    "win rate", "cost per lead", "churn rate", "pipeline velocity", "net revenue retention",
    "average deal size", "customer acquisition cost", "click-through rate", "time to first response",
    "renewal rate", "lead response time", "sales cycle length", "trial conversion", "email open rate",
    "demo show rate", "net promoter score", "quota attainment", "expansion revenue",
)  # fmt: skip

CUISINES: tuple[str, ...] = (
    "Japanese", "Italian", "Ethiopian", "Lebanese", "Peruvian", "Korean", "Greek", "Vietnamese", "Mexican",
    "Thai", "Spanish", "Turkish",
)  # fmt: skip

DINNER_SETTINGS: tuple[str, ...] = (
    "a private room", "a quiet corner table", "outdoor seating", "a tasting menu", "valet parking",
    "a long wine list", "a window table", "live jazz", "a chef's counter", "step-free access",
)  # fmt: skip

HOTEL_FEATURES: tuple[str, ...] = (
    "a rooftop gym", "an indoor pool", "an airport shuttle", "a quiet floor", "a kitchenette", "a spa",
    "a business lounge", "free parking", "a rain shower", "a roof terrace",
)  # fmt: skip

HOTEL_EXTRAS: tuple[str, ...] = (
    "free breakfast", "a standing desk", "blackout curtains", "laundry service", "a balcony",
    "room service", "a late checkout", "an early check-in", "a bathtub", "a minibar",
)  # fmt: skip

TIME_SLOTS: tuple[str, ...] = (
    "Tuesday mornings", "Thursday afternoons", "Monday at nine", "Wednesday after lunch",
    "Friday before noon", "early Thursday", "late Tuesday", "mid-morning Wednesday", "Monday afternoons",
    "Friday mornings",
)  # fmt: skip

SLOT_RULES: tuple[str, ...] = (
    "under forty minutes", "after the board call", "before the sales sync", "outside school holidays",
    "in the large boardroom", "with a remote dial-in", "clear of the month-end close",
    "away from travel days", "with a five-minute buffer", "no earlier than nine",
)  # fmt: skip

_CUSTOMER_PREFIXES: tuple[str, ...] = (
    "Harlow", "Brixton", "Calloway", "Dunmore", "Everly", "Fairbank", "Glenrock", "Holloway", "Ingram",
    "Kingsley", "Lockwood", "Marlow", "Norwood", "Oakley", "Prescott", "Radley",
)  # fmt: skip

_VENDOR_PREFIXES: tuple[str, ...] = (
    "Brightline", "Clearpath", "Datacore", "Firstlight", "Greystone", "Highmark", "Ironclad", "Landmark",
    "Mainstay", "Northstar", "Openfield", "Proline", "Silverline", "Truepoint", "Uniview", "Westbridge",
)  # fmt: skip

#: closed value lists by name. The builder splits each list per persona into values items may use
#: and values filler may use, so filler never states a value some item of its persona asks for.
VALUES: dict[str, tuple[str, ...]] = {
    "city": CITIES,
    "person": _people(),
    "tool": TOOLS,
    "customer": _companies(
        _CUSTOMER_PREFIXES, ("Foods", "Retail", "Health", "Motors", "Bank", "Energy", "Media", "Airlines")
    ),
    "vendor": _companies(
        _VENDOR_PREFIXES, ("Systems", "Consulting", "Partners", "Labs", "Solutions", "Group")
    ),
    "metric": METRICS,
    "date": tuple(f"{month} {day}" for month in _MONTHS for day in range(1, 29)),
    "amount": tuple(f"${k:,}" for k in range(20_000, 500_000, 2_500)),
    "code": tuple(f"{a}{b}-{n}" for a in "BCFHKMPRTX" for b in "ADGLNQSVWZ" for n in (2210, 4471, 6618)),
    "percent": tuple(f"{p} percent" for p in range(3, 36)),
    "cuisine": CUISINES,
    "dinner_setting": DINNER_SETTINGS,
    "hotel_feature": HOTEL_FEATURES,
    "hotel_extra": HOTEL_EXTRAS,
    "time_slot": TIME_SLOTS,
    "slot_rule": SLOT_RULES,
}


@dataclass(frozen=True)
class Constraint:
    """Something about the user that should shape a later recommendation (implicit connections).

    ``fragment`` is how the user says it (a clause, used as the template's ``{value}``), ``key`` the
    words an answer that takes it into account must name, ``need`` what the rubric asks for."""

    key: str
    fragment: str
    need: str


def _constraints(*rows: tuple[str, str, str]) -> tuple[Constraint, ...]:
    return tuple(Constraint(*row) for row in rows)


#: constraint lists by name; like ``VALUES``, split per persona between items and filler.
CONSTRAINTS: dict[str, tuple[Constraint, ...]] = {
    "physical": _constraints(
        (
            "knee surgery",
            "I am still recovering from knee surgery",
            "is low-impact because of the knee surgery",
        ),
        (
            "fear of heights",
            "I have a serious fear of heights",
            "stays on the ground for the fear of heights",
        ),
        (
            "back injury",
            "I have a back injury that flares up",
            "involves no lifting because of the back injury",
        ),
        ("asthma", "my asthma acts up with hard exercise", "is not strenuous because of the asthma"),
        (
            "motion sickness",
            "I get motion sickness on boats and rides",
            "avoids boats and rides (motion sickness)",
        ),
        ("sprained ankle", "I am nursing a sprained ankle", "needs little walking on the sprained ankle"),
        ("vertigo", "anything that spins gives me vertigo", "avoids spinning rides because of the vertigo"),
        ("pregnant", "I will be seven months pregnant by then", "is safe for someone who is pregnant"),
        (
            "hearing aid",
            "I wear a hearing aid and loud rooms are hard",
            "is quiet enough for the hearing aid",
        ),
        ("claustrophobia", "my claustrophobia makes small rooms hard", "avoids small rooms (claustrophobia)"),
        ("bee allergy", "I have a severe bee allergy", "keeps away from gardens because of the bee allergy"),
        ("wheelchair", "one of my reports uses a wheelchair", "is wheelchair accessible"),
    ),
    "dietary": _constraints(
        ("vegetarian", "I have been vegetarian for years", "has filling vegetarian dishes"),
        ("gluten intolerance", "I have a gluten intolerance", "has gluten-free dishes (gluten intolerance)"),
        ("shellfish allergy", "I have a shellfish allergy", "leaves out shellfish (shellfish allergy)"),
        ("peanut allergy", "I have a peanut allergy", "is free of peanuts (peanut allergy)"),
        (
            "lactose intolerant",
            "I am lactose intolerant",
            "has dairy-free dishes for someone lactose intolerant",
        ),
        ("halal", "I only eat halal food", "includes halal dishes"),
        ("kosher", "I keep kosher", "includes kosher dishes"),
        ("vegan", "I went vegan this year", "includes vegan dishes"),
        ("diabetic", "I am diabetic and watch my sugar", "keeps sugar low for someone diabetic"),
        (
            "low-sodium diet",
            "my doctor put me on a low-sodium diet",
            "keeps salt low for the low-sodium diet",
        ),
        ("sesame allergy", "I have a sesame allergy", "is free of sesame (sesame allergy)"),
        ("pork", "I do not eat pork", "leaves out pork"),
    ),
    "travel": _constraints(
        ("fear of flying", "I have a real fear of flying", "uses trains or cars for the fear of flying"),
        ("school pickup", "I do school pickup every afternoon", "gets the user home for school pickup"),
        ("newborn", "we have a newborn at home", "keeps nights away short because of the newborn"),
        ("red-eye flights", "red-eye flights wreck me for days", "avoids red-eye flights"),
        (
            "elderly mother",
            "I look after my elderly mother on weekends",
            "keeps weekends free (elderly mother)",
        ),
        ("visa renewal", "my passport is away for a visa renewal", "stays domestic during the visa renewal"),
        ("jet lag", "jet lag hits me very hard", "leaves a rest day for the jet lag"),
        (
            "night classes",
            "I teach night classes on Tuesdays",
            "keeps Tuesday evenings free for night classes",
        ),
        (
            "marathon training",
            "I am in marathon training and run every morning",
            "keeps mornings free to run",
        ),
        ("service dog", "I travel with a service dog", "books transport that accepts the service dog"),
        ("tight budget", "my department is on a tight budget this quarter", "keeps costs low (tight budget)"),
        ("car sickness", "long car rides give me car sickness", "avoids long car rides (car sickness)"),
    ),
}

# ---------------------------------------------------------------- what items ask


@dataclass(frozen=True)
class Fact:
    """An attribute of a subject that takes values (user facts, assistant facts, changing facts).

    ``kind`` names the subject ("Project" makes "Project Falcon", anything else "the Falcon <kind>");
    ``multi`` facts collect one value per message, so a question can need every message; ``updates``
    (changing facts only) restate the attribute with a new value, never naming the old one."""

    kind: str
    pool: str
    question: str
    topic: str
    statements: tuple[str, ...]
    answer: str
    use_case: str
    scenario: str
    multi: bool = False
    updates: tuple[str, ...] = ()


@dataclass(frozen=True)
class Slot:
    """One condition of a preference: its value list and how the user states it."""

    pool: str
    statements: tuple[str, ...]


@dataclass(frozen=True)
class Preference:
    """A recommendation the user asks for, shaped by one or two stated conditions (``slots``)."""

    kind: str
    question: str
    slots: tuple[Slot, Slot]
    rubric: str
    rubric_more: str
    use_case: str
    scenario: str


@dataclass(frozen=True)
class Implicit:
    """A recommendation the user asks for without naming the constraints they stated earlier."""

    kind: str
    question: str
    pool: str
    statements: tuple[str, ...]
    rubric: str
    use_case: str
    scenario: str


USER_FACTS: tuple[Fact, ...] = (
    Fact(
        "Project", "code",
        "What is the budget code for {subject}?", "the budget code for {subject}",
        (
            "The budget code for {subject} is {value}.",
            "For {subject}, the budget code is {value}.",
            "Finance set the budget code for {subject} to {value}.",
        ),
        "The budget code for {subject} is {values}.",
        "Project budgets", "keeps track of the budget codes of internal projects",
    ),
    Fact(
        "Kickoff", "city",
        "Which city is hosting {subject}?", "the city hosting {subject}",
        (
            "The city hosting {subject} is {value}.",
            "{value} is the city hosting {subject}.",
            "We picked {value} as the city hosting {subject}.",
        ),
        "The city hosting {subject} is {values}.",
        "Event planning", "organises kickoff events for the regional teams",
    ),
    Fact(
        "Deal", "person",
        "Who is the sales engineer on {subject}?", "the sales engineer on {subject}",
        (
            "{value} is the sales engineer on {subject}.",
            "The sales engineer on {subject} is {value}.",
            "For {subject}, our sales engineer is {value}.",
        ),
        "The sales engineer on {subject} is {values}.",
        "Deal support", "staffs enterprise deals with technical support",
    ),
    Fact(
        "Migration", "date",
        "When is the go-live date for {subject}?", "the go-live date for {subject}",
        (
            "The go-live date for {subject} is {value}.",
            "We set the go-live date for {subject} to {value}.",
            "For {subject}, the go-live date is {value}.",
        ),
        "The go-live date for {subject} is {values}.",
        "IT migrations", "schedules system migrations across the company",
    ),
    Fact(
        "Renewal", "amount",
        "What is the contract value of {subject}?", "the contract value of {subject}",
        (
            "The contract value of {subject} is {value}.",
            "For {subject}, the contract value comes to {value}.",
            "We agreed a contract value of {value} for {subject}.",
        ),
        "The contract value of {subject} is {values}.",
        "Contract renewals", "negotiates renewals of customer contracts",
    ),
    Fact(
        "Offsite", "city",
        "Which cities are on the shortlist for {subject}?", "the cities on the shortlist for {subject}",
        (
            "One of the cities on the shortlist for {subject} is {value}.",
            "Put {value} on the shortlist of cities for {subject} as well.",
            "{value} also made the shortlist of cities for {subject}.",
        ),
        "The shortlist of cities for {subject} includes {values}.",
        "Offsite planning", "plans team offsites and compares host cities",
        multi=True,
    ),
    Fact(
        "Proposal", "person",
        "Who is on the review panel for {subject}?", "the review panel for {subject}",
        (
            "{value} agreed to join the review panel for {subject}.",
            "The review panel for {subject} includes {value}.",
            "Add {value} to the review panel for {subject}.",
        ),
        "The review panel for {subject} includes {values}.",
        "Proposal reviews", "assembles review panels for customer proposals",
        multi=True,
    ),
    Fact(
        "Team", "tool",
        "Which tools are in the stack of {subject}?", "the tools in the stack of {subject}",
        (
            "{value} is one of the tools in the stack of {subject}.",
            "The stack of {subject} includes {value} among its tools.",
            "{subject} added {value} to its stack of tools.",
        ),
        "The stack of {subject} includes the tools {values}.",
        "Team tooling", "keeps an inventory of the software each team uses",
        multi=True,
    ),
    Fact(
        "Pilot", "customer",
        "Which customers signed up for {subject}?", "the customers signed up for {subject}",
        (
            "{value} is one of the customers signed up for {subject}.",
            "Among the customers signed up for {subject} is {value}.",
            "{value} signed up for {subject}, so count it among the customers.",
        ),
        "The customers signed up for {subject} include {values}.",
        "Customer pilots", "runs pilot programmes with early customers",
        multi=True,
    ),
)  # fmt: skip

ASSISTANT_FACTS: tuple[Fact, ...] = (
    Fact(
        "Account", "percent",
        "What renewal discount did you recommend for {subject}?", "the renewal discount for {subject}",
        (
            "For {subject}, I'd recommend a renewal discount of {value}.",
            "I recommend offering {subject} a renewal discount of {value}.",
            "A renewal discount of {value} is what I'd recommend for {subject}.",
        ),
        "The assistant recommended a renewal discount of {values} for {subject}.",
        "Pricing advice", "asks the assistant how to price account renewals",
    ),
    Fact(
        "Campaign", "amount",
        "What launch budget did you suggest for {subject}?", "the launch budget for {subject}",
        (
            "I'd suggest a launch budget of {value} for {subject}.",
            "For {subject}, a launch budget of {value} is what I'd suggest.",
            "My suggestion for {subject} is a launch budget of {value}.",
        ),
        "The assistant suggested a launch budget of {values} for {subject}.",
        "Campaign budgets", "plans marketing campaign budgets with the assistant",
    ),
    Fact(
        "Audit", "date",
        "What deadline did you propose for {subject}?", "the deadline for {subject}",
        (
            "I'd propose a deadline of {value} for {subject}.",
            "For {subject}, I propose a deadline of {value}.",
            "A deadline of {value} is what I'd propose for {subject}.",
        ),
        "The assistant proposed a deadline of {values} for {subject}.",
        "Compliance audits", "prepares compliance audits with the assistant's help",
    ),
    Fact(
        "Data Migration", "vendor",
        "Which vendors did you shortlist for {subject}?", "the vendors shortlisted for {subject}",
        (
            "One of the vendors I'd shortlist for {subject} is {value}.",
            "I'd also shortlist {value} among the vendors for {subject}.",
            "{value} belongs on the shortlist of vendors for {subject}.",
        ),
        "The assistant shortlisted the vendors {values} for {subject}.",
        "Vendor selection", "compares vendors for data projects with the assistant",
        multi=True,
    ),
    Fact(
        "Campaign", "metric",
        "Which metrics did you suggest tracking for {subject}?", "the metrics to track for {subject}",
        (
            "One of the metrics I'd suggest tracking for {subject} is {value}.",
            "For {subject}, {value} is among the metrics worth tracking.",
            "I'd add {value} to the metrics worth tracking for {subject}.",
        ),
        "The assistant suggested tracking {values} for {subject}.",
        "Campaign analytics", "asks the assistant which campaign numbers to watch",
        multi=True,
    ),
    Fact(
        "Roadshow", "city",
        "Which cities did you recommend for {subject}?", "the cities recommended for {subject}",
        (
            "For {subject}, one of the cities I'd recommend is {value}.",
            "{value} is another of the cities I'd recommend for {subject}.",
            "I'd put {value} on the list of cities for {subject}.",
        ),
        "The assistant recommended the cities {values} for {subject}.",
        "Sales roadshows", "plans customer roadshows with the assistant",
        multi=True,
    ),
)  # fmt: skip

CHANGING_FACTS: tuple[Fact, ...] = (
    Fact(
        "Rollout", "date",
        "What is the current launch date for {subject}?", "the launch date for {subject}",
        (
            "The launch date for {subject} is {value}.",
            "We are planning a launch date of {value} for {subject}.",
        ),
        "The current launch date for {subject} is {values}.",
        "Product rollouts", "coordinates product rollouts whose dates keep moving",
        updates=(
            "Update: the launch date for {subject} is now {value}.",
            "Change of plans, the launch date for {subject} moved to {value}.",
            "Heads up, the launch date for {subject} slipped to {value}.",
        ),
    ),
    Fact(
        "Program", "amount",
        "What is the current budget for {subject}?", "the budget for {subject}",
        (
            "The budget for {subject} is {value}.",
            "We got a budget of {value} approved for {subject}.",
        ),
        "The current budget for {subject} is {values}.",
        "Program budgets", "manages program budgets that are revised during the year",
        updates=(
            "Finance revised the budget for {subject} to {value}.",
            "The budget for {subject} is now {value}.",
            "After the review, the budget for {subject} became {value}.",
        ),
    ),
    Fact(
        "Account", "person",
        "Who is the point of contact for {subject} now?", "the point of contact for {subject}",
        (
            "My point of contact for {subject} is {value}.",
            "The point of contact for {subject} is {value}.",
        ),
        "The point of contact for {subject} is now {values}.",
        "Account management", "works with customer accounts whose contacts change",
        updates=(
            "The point of contact for {subject} changed to {value}.",
            "{value} is the new point of contact for {subject}.",
            "From now on the point of contact for {subject} is {value}.",
        ),
    ),
    Fact(
        "Summit", "city",
        "Where is {subject} being held now?", "where {subject} is held",
        (
            "{subject} will be held in {value}.",
            "This year {subject} is held in {value}.",
        ),
        "{subject} is now being held in {values}.",
        "Event logistics", "runs customer summits whose venues change",
        updates=(
            "{subject} is now being held in {value}.",
            "They moved {subject}, it will now be held in {value}.",
            "New plan: {subject} will be held in {value}.",
        ),
    ),
    Fact(
        "Support Contract", "vendor",
        "Which vendor is currently handling {subject}?", "the vendor handling {subject}",
        (
            "{value} is the vendor handling {subject}.",
            "The vendor handling {subject} is {value}.",
        ),
        "The vendor currently handling {subject} is {values}.",
        "Vendor management", "oversees support contracts that change vendors",
        updates=(
            "We switched the vendor handling {subject} to {value}.",
            "The vendor handling {subject} is now {value}.",
            "Procurement moved {subject} over, the vendor handling it is {value}.",
        ),
    ),
)  # fmt: skip

PREFERENCES: tuple[Preference, ...] = (
    Preference(
        "Client Dinner",
        "Which restaurant would you recommend for {subject}?",
        (
            Slot("cuisine", (
                "For {subject}, I'd like a restaurant that serves {value} food.",
                "I prefer a restaurant with {value} food for {subject}.",
            )),
            Slot("dinner_setting", (
                "The restaurant for {subject} should also have {value}.",
                "Also, for {subject} I want a restaurant with {value}.",
            )),
        ),
        "The response should recommend a restaurant that serves {first} food for {subject}",
        ", with {second}",
        "Client entertainment", "books restaurants for client dinners",
    ),
    Preference(
        "Sales Trip",
        "Which hotel would you recommend for {subject}?",
        (
            Slot("hotel_feature", (
                "For {subject}, I want a hotel with {value}.",
                "I always pick a hotel with {value}, so keep that in mind for {subject}.",
            )),
            Slot("hotel_extra", (
                "The hotel for {subject} should also offer {value}.",
                "On top of that, the hotel for {subject} needs {value}.",
            )),
        ),
        "The response should recommend a hotel with {first} for {subject}",
        " that also offers {second}",
        "Travel planning", "books hotels for sales trips",
    ),
    Preference(
        "Quarterly Review",
        "What time slot would you suggest for {subject}?",
        (
            Slot("time_slot", (
                "For {subject}, the time slot I prefer is {value}.",
                "My preferred time slot for {subject} is {value}.",
            )),
            Slot("slot_rule", (
                "The time slot for {subject} also has to be {value}.",
                "Whatever time slot you pick for {subject}, keep it {value}.",
            )),
        ),
        "The response should suggest {first} as the time slot for {subject}",
        ", keeping it {second}",
        "Meeting scheduling", "schedules recurring business reviews",
    ),
)  # fmt: skip

IMPLICIT: tuple[Implicit, ...] = (
    Implicit(
        "Offsite",
        "What team activity would you suggest for {subject}?",
        "physical",
        (
            "Something to remember when you pick a team activity for {subject}: {value}.",
            "For any team activity at {subject}, keep in mind that {value}.",
            "Before you choose the team activity for {subject}, you should know {value}.",
        ),
        "The response should suggest a team activity for {subject} that {needs}.",
        "Team events", "organises team activities at offsites",
    ),
    Implicit(
        "Workshop",
        "What should the team lunch menu for {subject} include?",
        "dietary",
        (
            "Whatever the team lunch menu for {subject} will include, remember that {value}.",
            "When you decide what the team lunch menu for {subject} should include, note that {value}.",
        ),
        "The response should suggest a team lunch menu for {subject} that {needs}.",
        "Catering", "orders catering for internal workshops",
    ),
    Implicit(
        "Customer Tour",
        "How should the travel for {subject} be planned?",
        "travel",
        (
            "When the travel for {subject} gets planned, keep in mind that {value}.",
            "Once the travel for {subject} is being planned, remember that {value}.",
        ),
        "The response should plan the travel for {subject} so that it {needs}.",
        "Business travel", "plans travel for customer tours",
    ),
)  # fmt: skip

# ---------------------------------------------------------------- decoys and chat

#: a subject mentioned with no fact: abstention evidence, and filler lines on any subject.
USER_DECOYS: tuple[str, ...] = (
    "{subject} came up twice in the leadership sync today.",
    "I spent most of the morning on slides about {subject}.",
    "Legal still has open questions about {subject}.",
    "I owe my manager a short recap on {subject}.",
    "Everyone sounded upbeat about {subject} in the hallway.",
    "{subject} is eating more of my week than I expected.",
    "I'm presenting an update on {subject} at the all-hands.",
    "There was a long thread about {subject} in the group chat.",
    "My manager asked me to keep an eye on {subject}.",
    "I finally cleared my backlog for {subject}.",
    "Someone from operations pinged me about {subject} again.",
    "I blocked two hours tomorrow to focus on {subject}.",
    "The retro for {subject} went better than expected.",
    "I shared my notes on {subject} with the wider group.",
    "A few people asked me how {subject} is going.",
    "I want to write a short wiki page about {subject}.",
)
ASSISTANT_DECOYS: tuple[str, ...] = (
    "I'll keep {subject} in mind for later.",
    "Happy to dig into {subject} whenever you like.",
    "Noted, I'll file that under {subject}.",
    "Sounds like {subject} is keeping you busy.",
)
USER_OPENERS: tuple[str, ...] = (
    "Morning!",
    "Quick one.",
    "Another thing.",
    "Okay, next item.",
    "Thanks for earlier.",
    "Hope your day is going well.",
    "Back again.",
)
USER_CLOSERS: tuple[str, ...] = (
    "Can you keep that in mind?",
    "Please note that down.",
    "That's it for now.",
    "Just so you have it.",
)
USER_CHAT: tuple[str, ...] = (
    "Busy day, lots of meetings.",
    "The coffee machine on our floor broke again.",
    "I'm heading into back-to-back calls.",
    "Traffic was terrible this morning.",
    "Remind me to stretch later.",
    "I finally caught up on email.",
)
#: ``{first}`` is the persona's first name.
ASSISTANT_ACKS: tuple[str, ...] = (
    "Noted, {first}.",
    "Got it, I'll remember that.",
    "Thanks, that's useful context.",
    "Understood.",
    "Sure thing.",
    "All set, I've saved that.",
    "Good to know.",
)
ASSISTANT_CLOSERS: tuple[str, ...] = (
    "Let me know if you want alternatives.",
    "Happy to go deeper on this.",
    "Tell me if anything changes.",
)
