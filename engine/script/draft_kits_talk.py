"""Draft kits for the story types spoken to the viewer: motivational, fun_facts, educational."""

from __future__ import annotations

from typing import Final, Mapping

from engine.script.draft_kit import DraftKit

_FACT_SETTINGS: Final = (
    "a bright, clean studio table with objects laid out",
    "a sunny park with people walking",
    "a busy modern city street in daylight",
    "a close view of nature in bright daylight",
)

TALK_KITS: Final[Mapping[str, DraftKit]] = {
    "motivational": DraftKit(
        hero_led=False,
        hooks={
            "low": ("Let's talk for a minute about {topic}, and about you.",),
            "medium": ("What would change if you stopped waiting for the perfect moment?",),
            "high": ("You are closer than you think. And today, we are going to prove it.",),
            "extreme": ("Stop. This is the sign you have been waiting for, and it is about {topic}.",),
        },
        setup=(
            "Everyone has something they keep putting off, and for many of us, it is {topic}.",
            "It is not that you do not care. It is that starting feels so heavy.",
            "You tell yourself you will begin on Monday, and then Monday comes and goes.",
            "The hardest part is never the work itself. It is the first step.",
            "Think of {hero}, who was once exactly where you are now.",
        ),
        rising=(
            "{hero} started with five minutes a day, and nothing more.",
            "Some days the five minutes felt pointless, and {hero} did them anyway.",
            "Progress is quiet. It rarely announces itself.",
            "Every small step you take is a vote for the person you want to become.",
            "Failure is not the opposite of success; it is part of the road there.",
            "When it gets hard, that is not a sign to stop. It is a sign you are growing.",
            "Look back a year. You have already come further than you think.",
        ),
        climax=(
            "Then one day, the thing that felt impossible simply felt normal.",
            "{hero} looked back and realised the five minutes had become a whole new life.",
            "The moment you stop negotiating with yourself is the moment everything changes.",
            "You do not need more motivation. You need a decision, and you can make it right now.",
            "Discipline is just remembering what you want most, even when it is hard.",
        ),
        ending=(
            "So here is your step for today: pick one small action and do it before tonight.",
            "Not tomorrow, not next week. Today.",
            "Write it down, set a timer, and begin.",
            "You will not feel ready. Begin anyway.",
            "A year from now, you will be glad you started today.",
        ),
        details=(
            "Picture the early morning, quiet and cool, before the world wakes up.",
            "Imagine how it will feel to keep a promise to yourself.",
            "Every expert was once a beginner who refused to quit.",
            "The sun rises every day without asking whether it feels like it.",
            "Small habits, repeated, build something enormous.",
        ),
        beats=("Start small.", "Keep going.", "Just begin.", "You can do this.", "One step.", "Right now."),
        closers=(
            "The best time to start was yesterday. The next best time is right now.",
            "Go. Your future self is already thanking you.",
        ),
        cameos=(
            "Think of {name}, who faced the same doubts and kept going.",
            "{name} once said the first step is the only one that matters.",
        ),
        places=("the starting line", "the top of the hill", "the end of the road"),
        things=("a simple notebook", "an alarm clock", "a pair of running shoes"),
        settings=(
            "a mountain summit at sunrise",
            "an empty running track at dawn",
            "a quiet desk by a window",
            "an open road stretching to the horizon",
        ),
        subjects=(
            "a runner on an empty road at sunrise",
            "a climber reaching a mountain summit",
            "a notebook and a cup of coffee on a desk at dawn",
        ),
        actions=(
            "running along an empty road",
            "standing on a summit with arms raised",
            "working late at a desk",
            "tying the laces of running shoes",
        ),
        light=(
            "the soft blue light before sunrise",
            "bright morning sunlight",
            "golden sunrise light",
            "warm golden hour light",
        ),
        titles=("{T}", "Start Today: {T}", "{T}: Your Next Step"),
    ),
    "fun_facts": DraftKit(
        hero_led=False,
        hooks={
            "low": ("Here are a few things about {topic} that you might not know.",),
            "medium": ("Think you know everything about {topic}? Let's see about that.",),
            "high": ("Fact number one is going to surprise you, and the last one is even stranger.",),
            "extreme": ("Everything you have been told about {topic} is only half the story. Ready?",),
        },
        setup=(
            "Let's start with the basics: {topic} is far older than most people realise.",
            "Most people walk past examples of {topic} every day without noticing.",
            "First surprising fact: the simplest things about {topic} are often the strangest.",
            (
                "Scientists have been studying {topic} for well over a century, and they are still finding"
                " surprises."
            ),
            "{hero} once said that {topic} was the most underrated subject in the world, and here is why.",
        ),
        rising=(
            (
                "Here is the next one: some of the most important discoveries about {topic} happened"
                " completely by accident."
            ),
            "And it gets stranger, because the numbers involved are far bigger than you would guess.",
            (
                "If you lined them all up end to end, the line would stretch further than you could walk in a"
                " day."
            ),
            "Even experts disagree on how it first began, and the debate is still going.",
            "There is a word for it in almost every language, and some of them are wonderfully odd.",
            "People once believed the exact opposite, and the old idea lasted for hundreds of years.",
            "The record for it was set decades ago, and nobody has come close since.",
        ),
        climax=(
            "But here is the most surprising fact of all, and it changes how you see everything else.",
            "It turns out the real story of {topic} is hiding in plain sight, in your own home.",
            "Researchers only confirmed this in the last few years, and it surprised them too.",
            "And if that was not enough, it may be happening right now, all around you.",
        ),
        ending=(
            "So the next time you come across {topic}, you will know its secrets.",
            "Which fact surprised you the most? Think about that for a second.",
            "There is always more to discover, and that is the fun part.",
            "Share one of these with a friend and watch the look on their face.",
        ),
        details=(
            "It sounds unbelievable, but it is true.",
            "Just think about that for a moment.",
            "Here is a quick comparison to make it concrete.",
            "That is more than most people ever imagine.",
            "And nobody is completely sure why.",
        ),
        beats=(
            "Wild, right?",
            "Next fact.",
            "It gets better.",
            "True story.",
            "Think about it.",
            "Here's another.",
        ),
        closers=(
            "The world is stranger than we think, and that is what makes it wonderful.",
            "Stay curious. There is always one more fact waiting.",
        ),
        cameos=("{name} would love this next one.", "Even {name} did not know this one."),
        places=("the deep ocean", "the other side of the world", "your own kitchen"),
        things=("a single grain of sand", "a magnifying glass", "an old encyclopedia"),
        settings=_FACT_SETTINGS,
        subjects=(
            "a magnifying glass over a surprising detail",
            "a colourful close-up of the subject in nature",
            "a stack of old books beside a modern tablet",
        ),
        actions=(
            "pointing at something surprising",
            "looking through a magnifying glass",
            "holding up an object with a curious smile",
            "laughing in surprise",
        ),
        light=("bright clean daylight", "vivid midday sun", "bright studio light", "warm afternoon light"),
        titles=("{T}: Facts You Never Knew", "{T}", "Surprising Facts About {T}"),
    ),
    "educational": DraftKit(
        hero_led=False,
        hooks={
            "low": ("Today we will take a clear look at {topic}, one step at a time.",),
            "medium": ("Have you ever wondered how {topic} actually works?",),
            "high": ("By the end of this video, you will understand {topic} better than most adults.",),
            "extreme": ("Most people get {topic} completely wrong. In the next few minutes, you will not.",),
        },
        setup=(
            "Before we dive in, let's start with the big question: what is {topic}, really?",
            "To understand it, we first need one simple idea.",
            "Think of it like a recipe: a few ingredients, put together in the right order.",
            "Let's define our terms, so we are all talking about the same thing.",
            "{hero} is going to help us with an example along the way.",
        ),
        rising=(
            "Step one is the foundation, and everything else builds on it.",
            "Here is an everyday comparison that makes it easier to picture.",
            "Step two adds a new piece, and this is where it starts to get interesting.",
            "Let's look at an example, with real numbers, so you can see it in action.",
            "Notice how each part depends on the part before it.",
            "{hero} tries it for the first time and discovers why the order matters.",
            "If this seems tricky, that is normal. Take it one piece at a time.",
        ),
        climax=(
            "Now here is the key idea, the one that ties everything together.",
            "Once you see this connection, the whole topic starts to make sense.",
            "A very common mistake is to skip the first step, and now you know why that fails.",
            "Put all the pieces together, and you can explain {topic} in a single sentence.",
        ),
        ending=(
            "Let's recap what we learned, step by step.",
            "First the foundation, then the building blocks, and finally the key idea that connects them.",
            "Try explaining it to someone else today; it is the best way to remember it.",
            "And now, the next time someone asks about {topic}, you will have the answer.",
        ),
        details=(
            "This might sound complicated, but it is simpler than it looks.",
            "Here is a way to picture it.",
            "Keep this idea in mind, because we will come back to it.",
            "This is the part most textbooks rush through.",
            "It is a small detail, but it makes a big difference.",
        ),
        beats=(
            "Simple, right?",
            "Step by step.",
            "Here's why.",
            "Let's check.",
            "Now, step three.",
            "Good question.",
        ),
        closers=(
            "Learning is just curiosity with a plan. Keep asking questions.",
            "Now you know. And knowing how it works is a kind of superpower.",
        ),
        cameos=("{name} has a good example of this.", "Let's see how {name} would explain it."),
        places=("the classroom", "the workshop", "the laboratory"),
        things=("a simple diagram", "a notebook", "a small model"),
        settings=(
            "a bright classroom with a large window",
            "a tidy workshop with tools on the wall",
            "a modern laboratory with glassware",
            "a wooden desk with books and a lamp",
        ),
        subjects=(
            "hands demonstrating with simple objects on a table",
            "a tidy workbench with labelled parts",
            "a teacher pointing at a model on a desk",
        ),
        actions=(
            "explaining with open hands",
            "writing in a notebook",
            "building a small model on a table",
            "looking closely at an experiment",
        ),
        light=("bright even daylight", "warm desk lamp light", "clean bright light", "soft afternoon light"),
        titles=("{T}, Explained", "How {T} Works", "{T}"),
    ),
}
