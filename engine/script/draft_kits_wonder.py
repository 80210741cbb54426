"""Draft kits for the story types of wonder: sci_fi, fantasy, history, bedtime."""

from __future__ import annotations

from typing import Final, Mapping

from engine.script.draft_kit import DraftKit

WONDER_KITS: Final[Mapping[str, DraftKit]] = {
    "sci_fi": DraftKit(
        hero_led=True,
        hooks={
            "low": ("In a future not so far from ours, {topic} had become part of everyday life.",),
            "medium": (
                "What would you give up to live forever? In this future, everyone had to answer.",
                "What if {topic} was not the end of the world, but the start of a new one?",
            ),
            "high": (
                "The signal arrived at exactly three in the morning, and it was addressed to {hero} by name.",
            ),
            "extreme": ("In nine minutes, the station would lose all power, and only {hero} knew why.",),
        },
        setup=(
            "{hero} worked the night shift aboard the orbital station, watching numbers nobody else watched.",
            "The world had changed when {topic} arrived, and most people had stopped noticing how much.",
            "Cities glowed through the night, and machines did most of the work people used to do.",
            "{hero} kept {thing} in a pocket, a reminder of the old world.",
            "Every morning began with the same message on every screen: all systems normal.",
            "{ally} was the only other person awake on the station.",
        ),
        rising=(
            "Then the readings from {place} began to drift, slowly at first, then faster.",
            "{hero} ran the numbers three times, and three times they came out impossible.",
            "The station's computer refused to answer one simple question.",
            "{ally} found a file that had been deleted, and then deleted again.",
            "Far below, the lights of an entire city blinked out, one district at a time.",
            "The message repeated every ninety seconds, and each time it was a little clearer.",
            "{rival} ordered everyone to stay calm and to stay away from {place}.",
        ),
        climax=(
            "{hero} opened the sealed door to {place}, and found it was not empty.",
            "The thing behind the signal was not a machine and not a person, but something in between.",
            "With seconds left, {hero} made a choice no protocol had ever covered.",
            "{thing} turned out to be the key, the one piece of the old world the system could not predict.",
            "The station shook, the screens went white, and then everything was silent.",
        ),
        ending=(
            "When the lights came back, the world below looked exactly the same, and completely different.",
            "{hero} sent one message home, and for the first time, someone answered.",
            "The future had not been stopped; it had only been given a second chance.",
            "Years later, people would argue about what really happened that night on the station.",
            "{hero} still looks up at the night sky, counting the lights that should not be there.",
        ),
        details=(
            "The hum of the life support never stopped, day or night.",
            "Through the window, the planet turned slowly, blue and white and silent.",
            "Screens cast a pale glow across the empty corridor.",
            "The air smelled of metal and recycled rain.",
            "Outside, the stars did not twinkle; they simply burned.",
            "Every surface was clean, smooth and cold to the touch.",
        ),
        beats=(
            "Signal lost.",
            "Then, static.",
            "Nobody answered.",
            "The screens flickered.",
            "Ten seconds.",
            "It was listening.",
        ),
        closers=(
            "The future is not something that happens to us. It is something we choose.",
            "Somewhere out there, the signal is still repeating.",
        ),
        cameos=("{name} had designed half the systems on the station.", "{name} was the first to notice."),
        places=("the sealed research deck", "the reactor ring", "the old communications array"),
        things=("a scratched wristwatch", "a paper photograph", "a handwritten notebook"),
        settings=(
            "a sleek space station corridor with curved white walls",
            "a control room full of glowing screens",
            "a futuristic city skyline at night",
            "a window looking down on Earth from orbit",
        ),
        subjects=(
            "a vast planet seen through a station window",
            "rows of glowing screens in an empty control room",
            "a city of towers under a violet sky",
        ),
        actions=(
            "floating in zero gravity beside a control panel",
            "staring at a glowing screen",
            "walking down a long white corridor",
            "pressing a hand against a cold window",
        ),
        light=(
            "cool blue screen light",
            "flashing amber warning lights",
            "harsh white emergency light",
            "soft sunrise over the planet's edge",
        ),
        titles=("{T}", "Signal: {T}", "After {T}"),
    ),
    "fantasy": DraftKit(
        hero_led=True,
        hooks={
            "low": ("Long ago, in a land of rivers and old forests, there was a story about {topic}.",),
            "medium": ("What would you risk for a magic that could change the world?",),
            "high": ("The dragon's shadow crossed the village at noon, and by evening {hero} had a quest.",),
            "extreme": ("The last spell in the world was about to be broken, and it was in {hero}'s hands.",),
        },
        setup=(
            "{hero} lived at the edge of the kingdom, where the maps grew vague and the forests grew old.",
            "Everyone knew the old tales about {topic}, but nobody believed they were true.",
            "Then a stranger arrived at the inn with {thing} and a warning.",
            "The old magic was fading, and without it the kingdom would fall.",
            "{hero} was given a choice: stay home where it was safe, or walk into the unknown.",
            "{ally} packed two bags before {hero} had even decided.",
        ),
        rising=(
            "The road led through {place}, where the trees whispered in a language no one spoke anymore.",
            "On the third night, wolves with silver eyes circled the campfire.",
            "{ally} knew a song that could open stone, but it could only be sung once.",
            "{hero} learned that every spell had a price, and the price was always something dear.",
            "A river spirit demanded a riddle answered before it would let them cross.",
            "{rival} was following them, always one day behind.",
            "Each mile, {thing} grew warmer and brighter, as if it knew the way.",
        ),
        climax=(
            (
                "At the top of the mountain, the ancient gate stood open, and beyond it waited the heart of"
                " the magic."
            ),
            "{rival} stepped from the shadows, demanding {thing} for a darker purpose.",
            "{hero} raised {thing}, and light poured out across the mountainside.",
            "The price of the spell was clear now, and {hero} paid it without hesitation.",
            "The dragon landed before them, vast and ancient, and spoke.",
        ),
        ending=(
            "The magic returned to the land like spring returning after a long winter.",
            "{hero} came home changed, carrying stories no one in the village would quite believe.",
            "The forests grew green again, and the rivers sang.",
            "{ally} wrote the tale down, so that it would never be forgotten.",
            "And {thing} was placed where it belonged, guarded until the next hero was needed.",
        ),
        details=(
            "Mist curled between the trunks of the ancient trees.",
            "The stars above were brighter here than anywhere else in the world.",
            "Moss covered the old stones, soft and green and silent.",
            "Somewhere far off, a horn sounded, long and low.",
            "The air tasted of pine, rain and something like lightning.",
            "Fireflies drifted through the dusk like tiny lanterns.",
        ),
        beats=(
            "The ground trembled.",
            "Magic stirred.",
            "Then, wings.",
            "The gate opened.",
            "A price, always.",
        ),
        closers=(
            "And that is how the magic came back, and what it cost to bring it home.",
            "Some say the dragon still watches from the mountain, waiting for the next hero.",
        ),
        cameos=(
            "{name} joined the quest at the river crossing.",
            "{name} had once been a knight of the old kingdom.",
        ),
        places=("the Whispering Wood", "the Valley of Stones", "the ruined tower of the old kings"),
        things=("a glowing blue stone", "an ancient silver sword", "a map that redrew itself"),
        settings=(
            "an ancient misty forest with enormous trees",
            "a stone village at the foot of great mountains",
            "a ruined castle on a cliff",
            "a mountain pass under a stormy sky",
        ),
        subjects=(
            "a dragon circling over distant mountains",
            "an ancient stone gate glowing with runes",
            "a winding road through a magical forest",
        ),
        actions=(
            "holding up a glowing artefact",
            "walking along a forest path with a walking staff",
            "standing at the edge of a cliff looking out",
            "kneeling beside a campfire",
        ),
        light=(
            "soft morning sunlight through leaves",
            "golden hour light",
            "stormy light with flashes of lightning",
            "warm sunrise light",
        ),
        titles=("The Quest for {T}", "{T}", "The Last Magic of {T}"),
    ),
    "history": DraftKit(
        hero_led=True,
        hooks={
            "low": ("To understand {topic}, we have to go back to a world very different from our own.",),
            "medium": ("How did {topic} change the world, and why do so few people know the full story?",),
            "high": ("In a single day, everything people believed about {topic} was turned upside down.",),
            "extreme": (
                "It should have been impossible, and yet it happened, and the world has never been the same.",
            ),
        },
        setup=(
            "The world before {topic} moved at the pace of horses and sailing ships.",
            "News took weeks to travel, and most people never went far from where they were born.",
            "{hero}, a young clerk with a sharp eye for detail, was there to see it begin.",
            "In the crowded streets, merchants shouted prices and carts rattled over the cobblestones.",
            "Tensions had been building for years, quietly, in letters and in back rooms.",
            "{ally} kept a diary through those years, and much of what we know comes from its pages.",
        ),
        rising=(
            "Then came a winter harder than anyone could remember, and with it, hunger.",
            "Petitions were written, signed and ignored.",
            "{hero} carried messages between {place} and the capital, riding through the night.",
            "Rumours spread faster than the official news, and each one was wilder than the last.",
            "{rival} argued that nothing needed to change, and many powerful people agreed.",
            "Crowds gathered in the squares, first hundreds, then thousands.",
            "The letters of the time describe a city holding its breath.",
        ),
        climax=(
            "On the morning of the turning point, the bells of every church rang at once.",
            "{hero} stood in the square as the decision was read aloud.",
            "In a matter of hours, rules that had stood for centuries were swept away.",
            "{rival} fled the city before nightfall, leaving behind {thing}.",
            "For a moment, no one knew what would come next.",
        ),
        ending=(
            "The changes that followed took decades to settle, and not all of them were kind.",
            "{hero} lived to old age and told the story to anyone who would listen.",
            "Historians still argue about what caused it and what it meant.",
            "{thing} now sits in a museum, behind glass, where thousands pass it every year.",
            "The world we live in today was shaped, in small but real ways, by those few days.",
        ),
        details=(
            "Candles burned late in the windows of the government offices.",
            "The streets smelled of woodsmoke, horses and fresh bread.",
            "Ink-stained papers piled up on every desk.",
            "The river was busy with barges carrying grain and timber.",
            "Church bells marked the hours, as they had for centuries.",
            "People wore their best clothes to hear important news.",
        ),
        beats=(
            "Nobody expected it.",
            "Then came the news.",
            "Everything changed.",
            "The bells rang.",
            "History turned.",
        ),
        closers=(
            "History is not just what happened. It is the story of why it still matters.",
            "And that is how a few days in a crowded city changed the world.",
        ),
        cameos=(
            "{name} was one of the many who witnessed those days.",
            "{name} left behind letters we can still read.",
        ),
        places=("the harbour town", "the old market square", "the northern border"),
        things=("a signed proclamation", "a worn leather satchel", "a brass pocket compass"),
        settings=(
            "a crowded cobblestone market square in an old city",
            "a candlelit government office with maps",
            "a busy harbour with wooden sailing ships",
            "a grand hall with tall windows and banners",
        ),
        subjects=(
            "a crowd gathered in an old town square",
            "a map spread across a wooden table with candles",
            "wooden sailing ships in a busy harbour",
        ),
        actions=(
            "writing by candlelight at a wooden desk",
            "riding a horse through a city gate",
            "standing in a crowd listening",
            "reading a letter by a window",
        ),
        light=("pale winter daylight", "warm candlelight", "bright midday sun", "golden evening light"),
        titles=("{T}", "The Day of {T}", "{T}: The Untold Story"),
    ),
    "bedtime": DraftKit(
        hero_led=True,
        hooks={
            "low": (
                (
                    "Once upon a time, when the moon was round and the night was soft, there was a story"
                    " about {topic}."
                ),
            ),
            "medium": ("Do you know what the stars whisper to each other when everyone is asleep?",),
            "high": (
                (
                    "Tonight, something wonderful was about to happen, and it began with a tiny knock at the"
                    " window."
                ),
            ),
            "extreme": (
                (
                    "Get cosy and listen closely, because tonight's adventure starts right now, in your very"
                    " own room."
                ),
            ),
        },
        setup=(
            (
                "In a little house at the edge of a sleepy village lived {hero}, who loved stories more than"
                " anything."
            ),
            "Every evening, {hero} watched the sky turn from gold to pink to the deepest blue.",
            "One night, a small silver light floated down and settled on the windowsill.",
            (
                "It was a friendly little star who had lost the way home, and {ally} came to the window to"
                " see it too."
            ),
            "{hero} tucked {thing} under one arm and opened the window wide.",
            "The whole village was quiet, and the crickets sang a slow, sleepy song.",
        ),
        rising=(
            "Together they drifted over the rooftops, as light as dandelion seeds.",
            "They visited the old owl in the oak tree, who knew every path in the sky.",
            "A sleepy rabbit pointed the way across the meadow with a soft, twitching nose.",
            "They followed a stream that sparkled like a ribbon of moonlight through {place}.",
            "{hero} hummed a little tune, and the fireflies hummed along.",
            "Every friend they met gave them a little gift: a feather, a smile, a song.",
        ),
        climax=(
            "At last they reached the top of the tallest hill, where the sky was close enough to touch.",
            "{ally} spotted the empty space among the stars, just the right size.",
            "{hero} held up {thing}, and it glowed with a warm and gentle light.",
            "With a soft twinkle, the little star floated up and settled home among the others.",
        ),
        ending=(
            "The way back was slow and sleepy, and the breeze was warm and kind.",
            "{hero} climbed back into bed, and the blankets were soft and warm.",
            "Outside the window, one little star twinkled a little brighter than the rest.",
            "The house was still, and the moon kept watch over the village.",
            "And {hero}'s eyes grew heavy, heavy, and closed at last.",
        ),
        details=(
            "The moon hung low and round, like a lantern in the sky.",
            "A gentle breeze rustled the leaves, whispering hush, hush, hush.",
            "The grass was cool and soft, and sparkled with dew.",
            "Far away, the sea rolled slowly in and out, in and out.",
            "The stars blinked slowly, as if they were getting sleepy too.",
            "Everything smelled of clover, warm bread and clean sheets.",
        ),
        beats=("Slowly, softly.", "All was well.", "Hush now.", "The night was calm.", "Sleepy and warm."),
        closers=(
            "Goodnight, little star. Goodnight, moon. And goodnight to you.",
            "And everyone slept soundly, until morning.",
        ),
        cameos=(
            "{name} came along too, yawning a big sleepy yawn.",
            "{name} waved from a cosy window as they passed.",
        ),
        places=("the silver meadow", "the whispering willows", "the quiet pond"),
        things=("a soft blue blanket", "a little lantern", "a knitted teddy bear"),
        settings=(
            "a cosy bedroom with a window open to the night sky",
            "a moonlit meadow full of fireflies",
            "a sleepy village of little houses under the stars",
            "a gentle hill under a huge round moon",
        ),
        subjects=(
            "a small glowing star on a windowsill",
            "a wise old owl in an oak tree at night",
            "fireflies floating over a quiet pond",
        ),
        actions=(
            "floating gently above the rooftops",
            "holding a little lantern in the dark",
            "tucked up in bed and smiling",
            "walking barefoot through soft grass",
        ),
        light=(
            "warm lamplight",
            "soft silver moonlight",
            "the gentle glow of fireflies",
            "the faint blue of a starry night",
        ),
        titles=("{T}", "The Little Star and {T}", "A Sleepy Tale of {T}"),
    ),
}
