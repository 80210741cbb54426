"""Draft kits for the dark story types: scary_horror, mystery, true_crime, urban_legend."""

from __future__ import annotations

from typing import Final, Mapping

from engine.script.draft_kit import DraftKit

DARK_KITS: Final[Mapping[str, DraftKit]] = {
    "scary_horror": DraftKit(
        hero_led=True,
        hooks={
            "low": ("This is a quiet story about {topic}, and about the things that wait in quiet places.",),
            "medium": (
                "Have you ever had the feeling that a room was listening to you?",
                "What would you do if something knocked from the inside of a locked door?",
            ),
            "high": ("The footprints in the dust led into the house, and they never came back out.",),
            "extreme": (
                "Do not turn around. That was the only rule, and {hero} broke it on the very first night.",
            ),
        },
        setup=(
            "{hero} had heard the stories about {topic}, but had never believed a word of them.",
            "It began on an ordinary evening, with {hero} alone and the lights of town far away.",
            "Everyone nearby had a reason to stay away from {topic}, and nobody would say what it was.",
            "{hero} arrived just before dark, carrying a bag, a flashlight and {thing}.",
            "The place was quiet in the way that only abandoned places are quiet.",
            "For the first hour nothing happened at all, and somehow that was worse.",
        ),
        rising=(
            "Then came the first sound, a slow knock from somewhere beyond {place}.",
            "{hero} told {ally} about the knocking, and {ally} did not laugh.",
            "A door that had been closed was now standing open, just a few inches.",
            "Someone had moved {thing}, and {hero} had been alone the whole time.",
            "The temperature dropped so fast that every breath hung in the air like smoke.",
            "On the wall near {place}, someone had scratched a long row of tally marks.",
            "Every night the knocking came a little earlier, and a little closer.",
            (
                "{hero} found old photographs, and in every one the same blurred figure stood at the back,"
                " watching."
            ),
        ),
        climax=(
            "At midnight the house went completely silent, and then every door slammed at once.",
            "{hero} ran for {place}, but the hallway was longer than it had ever been.",
            "The figure stood at the top of the stairs, exactly where the photographs said it would be.",
            "{hero} held up {thing} with shaking hands, and for one long moment nothing moved.",
            "The flashlight flickered and died, and in the dark something whispered a name.",
            "{rival} had known the truth all along, and had never warned anyone.",
        ),
        ending=(
            "By morning {hero} was gone, and the front door was locked from the inside.",
            "The police found nothing but {thing}, resting neatly on the kitchen table.",
            "People still drive past at night, and some of them swear a light is on upstairs.",
            "{hero} never talks about that night, except to say one thing: never answer the knock.",
            "The house was sold again last spring, to a family who had not heard the stories.",
        ),
        details=(
            "The floorboards creaked under a weight that was not there.",
            "Somewhere in the walls, water dripped in a slow and patient rhythm.",
            "The air smelled of dust, candle smoke and something sweeter underneath.",
            "Outside, the trees stood perfectly still, though the wind was howling.",
            "The windows reflected the room, but the reflection moved a second too late.",
            "Every shadow seemed deeper than the light allowed.",
        ),
        beats=(
            "Then, silence.",
            "Something moved.",
            "It was closer.",
            "Nobody answered.",
            "The knocking stopped.",
            "The lights died.",
        ),
        closers=(
            "And if you listen closely tonight, you might hear it knocking too.",
            "Some doors are locked for a reason.",
        ),
        cameos=(
            "{name} had seen it too, years ago, and never forgot.",
            "{name} was the only one who believed the stories.",
        ),
        places=("the cellar stairs", "the upstairs landing", "the back bedroom"),
        things=("an old brass key", "a cracked hand mirror", "a child's music box"),
        settings=(
            "a dark narrow hallway with peeling wallpaper",
            "a dusty attic under sloping beams",
            "an overgrown garden in front of an old house",
            "a stone cellar with a single bare bulb",
        ),
        subjects=(
            "an empty hallway with a half-open door",
            "a staircase disappearing into darkness",
            "a pale figure half hidden at the end of a corridor",
        ),
        actions=(
            "holding a flashlight and looking over one shoulder",
            "standing frozen in a doorway",
            "kneeling to pick something up from the floor",
            "backing away from a dark staircase",
        ),
        light=(
            "grey overcast light",
            "the last orange light of dusk",
            "the narrow beam of a flashlight",
            "cold pale dawn light",
        ),
        titles=("What Waits in {T}", "{T}", "The Knocking: {T}"),
    ),
    "mystery": DraftKit(
        hero_led=True,
        hooks={
            "low": (
                "Every mystery starts with a small thing that does not fit. This one started with {topic}.",
            ),
            "medium": (
                "How does something vanish from a locked room with no way in and no way out?",
                "What really happened with {topic}? Listen closely, because every clue matters.",
            ),
            "high": ("By nine in the morning, {thing} was gone, and everyone in the house was lying.",),
            "extreme": ("One of them was lying, and by midnight {hero} would know exactly which one.",),
        },
        setup=(
            "{hero} had solved stranger puzzles, but nothing quite like {topic}.",
            "The facts were simple: {thing} had been there at dinner and gone by breakfast.",
            "There were four people in the house that night, and each had a reason to want it gone.",
            "{hero} began the way every good investigator begins, by listening.",
            "Nobody had heard a sound, and the only door had been locked all night.",
            "{ally} handed over a list of everyone who had a key.",
        ),
        rising=(
            "The first clue was a muddy footprint near {place}, pointing the wrong way.",
            "{hero} noticed that the clock in the hall had been stopped at twenty past eleven.",
            "The butler's story changed twice before lunch.",
            "Someone had burned a letter in the fireplace, but one corner had survived.",
            "{ally} found a train ticket, bought for the very morning of the theft.",
            "Every witness remembered the rain, but the windows were bone dry.",
            "{rival} had an alibi that was a little too perfect.",
            "{hero} wrote every fact on a card and laid them out across the table.",
        ),
        climax=(
            "Then {hero} saw it: the footprint had not been walking in, it had been walking out.",
            "{hero} gathered everyone in the library and closed the door.",
            "The stopped clock was not an accident; it was an alibi someone had built by hand.",
            "One by one the cards fell into place, and only one name was left.",
            "{rival} went pale as {hero} read the burned corner of the letter aloud.",
            "The missing piece had been in plain sight the whole time, near {place}.",
        ),
        ending=(
            "{thing} was found exactly where {hero} said it would be.",
            "The culprit confessed before the police had even reached the door.",
            "It had never been about money; it had been about an old promise broken.",
            "{hero} stepped out into the morning air, the puzzle finally quiet.",
            "And the clue that solved it all was the one everybody else had ignored.",
        ),
        details=(
            "Rain ran down the tall windows in thin grey lines.",
            "The library smelled of pipe smoke and old paper.",
            "A single lamp left most of the room in shadow.",
            "Somewhere a door clicked shut, very softly.",
            "The fire had burned down to a low red glow.",
            "Everyone seemed to be watching everyone else.",
        ),
        beats=(
            "Nobody moved.",
            "A clue.",
            "It did not fit.",
            "Then, a knock.",
            "Someone lied.",
            "Think again.",
        ),
        closers=(
            "Sometimes the truth is hiding in the one place nobody thinks to look.",
            "The case was closed, but {hero} kept the last card, just in case.",
        ),
        cameos=("{name} had been in the house that night too.", "{name} knew more than anyone would admit."),
        places=("the study window", "the garden gate", "the back staircase"),
        things=("the silver locket", "the family ledger", "the painting from the hall"),
        settings=(
            "a wood-panelled library with tall windows",
            "a rain-soaked garden at night",
            "a cluttered study with papers on every surface",
            "a long dining table after dinner",
        ),
        subjects=(
            "a muddy footprint on a polished floor",
            "a burned letter in a fireplace",
            "a stopped grandfather clock in a hallway",
        ),
        actions=(
            "studying a clue through a magnifying glass",
            "standing by a rain-streaked window in thought",
            "facing a room full of suspects",
            "kneeling to examine the floor",
        ),
        light=(
            "soft grey morning light",
            "warm lamplight",
            "flickering firelight",
            "clear golden morning light",
        ),
        titles=("The Mystery of {T}", "{T}", "The Case of {T}"),
    ),
    "true_crime": DraftKit(
        hero_led=True,
        hooks={
            "low": (
                "This is the story of {topic}, a case that still unsettles the people who lived through it.",
            ),
            "medium": ("How could a whole town miss what was happening right in front of it?",),
            "high": (
                "The call came in at four in the morning, and nothing about the case would ever be simple.",
            ),
            "extreme": ("The evidence was there for eleven years before anyone thought to look at it.",),
        },
        setup=(
            "The case began in a small town, the kind of place where people left their doors unlocked.",
            (
                "{hero} was the detective assigned to it, a careful investigator with a habit of rereading"
                " every file."
            ),
            "At first, {topic} looked like a simple report that would be closed within the week.",
            "Neighbours described a quiet street, regular routines, and nothing out of the ordinary.",
            "The first officers on the scene noted the time, the weather and one unlocked window.",
            "{ally} had worked the night shift and remembered a car parked where it should not have been.",
        ),
        rising=(
            "Over the following weeks, investigators interviewed more than forty witnesses.",
            "A receipt found near {place} put someone at the scene two hours earlier than claimed.",
            "{hero} built a timeline on the wall, hour by hour, and one gap would not close.",
            "Phone records showed a call that lasted only eleven seconds.",
            "{rival} was questioned twice and each time told the story in exactly the same words.",
            "The lab results came back, and they pointed somewhere no one expected.",
            "A witness who had stayed silent for months finally asked to speak to {hero}.",
        ),
        climax=(
            "The break came from {thing}, logged as evidence on the very first day and never examined.",
            "Confronted with the timeline, {rival} asked for a lawyer and said nothing more.",
            "Investigators returned to {place} with a warrant just after dawn.",
            "{hero} laid out the evidence piece by piece, and the gap in the timeline finally closed.",
            "The arrest was made quietly, on an ordinary weekday afternoon.",
        ),
        ending=(
            "The trial lasted three weeks, and the jury deliberated for less than a day.",
            "For the families involved, the verdict brought answers, though not peace.",
            "{hero} retired a few years later, and still keeps a copy of the timeline.",
            "Today the case is taught as an example of what patient investigation can do.",
            "The street looks much the same now, but the people who live there remember.",
        ),
        details=(
            "The file grew to more than a thousand pages.",
            "The weather that week was cold and grey, with rain most nights.",
            "Local newspapers ran the story on the front page for a month.",
            "Every lead had to be checked, and most of them went nowhere.",
            "The evidence room was kept locked, its contents carefully numbered.",
            "Investigators worked late into the night, reviewing the same few hours again and again.",
        ),
        beats=(
            "Then, nothing.",
            "The trail went cold.",
            "Until now.",
            "One detail changed everything.",
            "The clock was ticking.",
        ),
        closers=(
            "Some cases are solved in days. This one took patience, and the courage to look again.",
            "And the question that remains is how many other answers are still waiting in old files.",
        ),
        cameos=(
            "{name} was one of the first people investigators spoke to.",
            "{name} would later become a key witness.",
        ),
        places=("the parking lot behind the diner", "the county road", "the old rail yard"),
        things=("a single cassette tape", "a torn bus ticket", "a pair of muddy boots"),
        settings=(
            "a small-town street at dawn",
            "a detective's office with case files stacked high",
            "a quiet county road lined with bare trees",
            "an evidence room with numbered boxes",
        ),
        subjects=(
            "a wall covered in a timeline of notes and photographs",
            "police tape across an empty driveway",
            "a box of evidence on a metal desk",
        ),
        actions=(
            "reading through a thick case file at a desk",
            "standing at a wall of notes and photographs",
            "walking along a quiet road with a notebook",
            "sitting across a table in an interview room",
        ),
        light=(
            "flat grey daylight",
            "harsh fluorescent light",
            "the blue light before dawn",
            "soft evening light",
        ),
        titles=("The {T} Case", "{T}", "Cold Trail: {T}"),
    ),
    "urban_legend": DraftKit(
        hero_led=True,
        hooks={
            "low": (
                (
                    "They tell a story in these parts about {topic}. You can decide for yourself whether to"
                    " believe it."
                ),
            ),
            "medium": ("Have you heard the story about {topic}? Most people only know half of it.",),
            "high": ("They say that if you go there after midnight, you will not come back the same.",),
            "extreme": ("Everyone who broke the rule is gone, and {hero} broke it last Friday.",),
        },
        setup=(
            "They say it started long ago, when {topic} was still just a rumour among the older folks.",
            "The legend has one rule, and everyone in town knows it by heart.",
            "Never go near {place} after dark, and never, ever say the name out loud.",
            "Kids dare each other to break the rule, but nobody actually does.",
            "{hero} had grown up with the story and thought it was just that, a story.",
            "The story goes that the last person who tried was never seen again.",
        ),
        rising=(
            "One autumn night, {hero} and {ally} decided to find out for themselves.",
            "The road to {place} was darker than either of them remembered.",
            "{hero} said the name out loud, and then laughed, a little too loudly.",
            "Nothing happened, at first.",
            "On the drive home, the radio began to play a song that had not been on the air for forty years.",
            "In the rear-view mirror, just for a second, {hero} saw someone sitting in the back seat.",
            "The next morning, {thing} was lying on the doorstep, wet with dew.",
        ),
        climax=(
            "Every night after that, the same car followed {hero} home, always at the same distance.",
            "{hero} went back to {place} to return {thing}, because that is what the old story said to do.",
            "At the stroke of midnight, the air went cold and the headlights went out.",
            "A voice from the darkness asked one question, and {hero} knew better than to answer.",
            "{rival} swore it had all been a prank, but nobody could explain the footprints.",
        ),
        ending=(
            "{hero} never broke the rule again, and the car never came back.",
            "Some people say it was all a trick of the light and a tired mind.",
            (
                "Others point out that {place} still has fresh flowers every autumn, and nobody knows who"
                " leaves them."
            ),
            "The legend is still told in town, with one new detail added at the end.",
            "And now you know the rule too.",
        ),
        details=(
            "The fog rolled in off the fields, thick and low.",
            "Crickets sang in the ditches, and then, all at once, they stopped.",
            "The old streetlight at the corner buzzed and flickered.",
            "The town was asleep, every window dark.",
            "The road stretched on between the trees, pale under the moon.",
            "Somewhere far away a dog began to bark, and would not stop.",
        ),
        beats=(
            "Or so they say.",
            "Nobody knows why.",
            "Then the radio hissed.",
            "Midnight came.",
            "Just a story. Right?",
        ),
        closers=(
            "So if you ever find yourself near there after midnight, remember the rule.",
            "Believe it or not, but maybe do not say the name. Just in case.",
        ),
        cameos=(
            "{name} swears it happened exactly like this.",
            "{name} heard the story first, from a grandparent.",
        ),
        places=("the old stone bridge", "the crossroads by the church", "the closed motel on the highway"),
        things=("a faded school photograph", "a single white glove", "an old silver coin"),
        settings=(
            "a lonely country road at night",
            "an old stone bridge over a dark river",
            "a small-town main street with closed shops",
            "a crossroads at the edge of the woods",
        ),
        subjects=(
            "a pair of headlights in thick fog",
            "an empty road vanishing into the trees",
            "a lone streetlight flickering over a crossroads",
        ),
        actions=(
            "standing on an empty road looking into the fog",
            "sitting in a car gripping the steering wheel",
            "walking across an old bridge with a flashlight",
            "looking into a rear-view mirror",
        ),
        light=(
            "fading twilight",
            "moonlight through fog",
            "the glare of headlights",
            "the first grey light of morning",
        ),
        titles=("The Legend of {T}", "{T}", "Never After Midnight: {T}"),
    ),
}
