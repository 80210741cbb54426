"""Draft kits for the story types about people: comedy, drama."""

from __future__ import annotations

from typing import Final, Mapping

from engine.script.draft_kit import DraftKit

PEOPLE_KITS: Final[Mapping[str, DraftKit]] = {
    "comedy": DraftKit(
        hero_led=True,
        hooks={
            "low": ("This is the story of {topic}, and of a plan that was supposed to be simple.",),
            "medium": ("What is the worst that could happen? Famous last words.",),
            "high": (
                "By noon, the kitchen was on fire, the dog was wearing a tie, and {hero} was still smiling.",
            ),
            "extreme": ("Everything went wrong. Everything. And it all started with {topic}.",),
        },
        setup=(
            "{hero} had a plan, and it was a very good plan, at least on paper.",
            "The plan involved {topic}, a free afternoon and absolutely no surprises.",
            "{ally} said it was a terrible idea, which only made {hero} more determined.",
            "Step one went perfectly, which should have been the first warning.",
            "{hero} bought {thing}, just in case, because you never know.",
        ),
        rising=(
            "Step two went slightly less perfectly.",
            "{hero} decided to fix the small problem, and created a medium-sized problem instead.",
            "The neighbour's cat wandered in, took one look around and left immediately.",
            "{ally} arrived, saw the mess and quietly backed out of the room.",
            "The instructions, it turned out, had been upside down the whole time.",
            "{hero} tried to fix the medium-sized problem, and it became a large problem.",
            "Somehow, {thing} ended up on the roof.",
        ),
        climax=(
            "At the worst possible moment, {rival} knocked on the door for a surprise visit.",
            "{hero} smiled, said everything was under control, and the smoke alarm went off.",
            "The fire brigade arrived, and the cat came back to watch.",
            "In the chaos, {thing} fell off the roof and landed exactly where it was needed.",
        ),
        ending=(
            "Somehow, against all odds, the plan worked.",
            "{rival} was so impressed that a second visit was booked for next week.",
            "{hero} sat down, covered in flour, and declared it a complete success.",
            "{ally} took a photo, for evidence.",
            "And the cat has not come back since.",
        ),
        details=(
            "The kitchen looked like a small tornado had passed through.",
            "There was glitter in places glitter should never be.",
            "Somewhere, a dog was barking with great enthusiasm.",
            "Nothing smelled quite right, and nobody wanted to ask why.",
            "The clock ticked loudly, almost as if it were laughing.",
        ),
        beats=("Oops.", "That went well.", "Not great.", "Then, a crash.", "Classic.", "Of course."),
        closers=(
            "And the lesson? Always read the instructions. The right way up.",
            "Next week, {hero} has an even better plan. What could possibly go wrong?",
        ),
        cameos=(
            "{name} wandered in, looked around, and wandered straight back out.",
            "{name} offered to help, which made things worse.",
        ),
        places=("the back garden", "the kitchen", "the garage"),
        things=("a very large inflatable flamingo", "a rubber chicken", "a ten-litre tub of glitter"),
        settings=(
            "a messy suburban kitchen covered in flour",
            "a cluttered garage full of odd objects",
            "a sunny back garden with a wobbly ladder",
            "a tidy living room just before disaster",
        ),
        subjects=(
            "an inflatable flamingo stuck on a roof",
            "a kitchen covered in flour and glitter",
            "a cat staring unimpressed at a mess",
        ),
        actions=(
            "grinning nervously in the middle of a mess",
            "balancing on a wobbly ladder",
            "holding a smoking frying pan",
            "throwing both hands up in surprise",
        ),
        light=(
            "bright cheerful daylight",
            "warm afternoon sun",
            "flashing red and blue lights",
            "soft evening light",
        ),
        titles=("{T}: What Could Go Wrong?", "{T}", "The {T} Disaster"),
    ),
    "drama": DraftKit(
        hero_led=True,
        hooks={
            "low": (
                "Some stories are quiet. This one is about {topic}, and the people it brought together.",
            ),
            "medium": ("What do you do when the person you trust most asks you to choose?",),
            "high": (
                "The letter had been sitting unopened for three days, and {hero} already knew what it said.",
            ),
            "extreme": (
                "After ten years of silence, {hero} picked up the phone, and everything fell apart.",
            ),
        },
        setup=(
            "{hero} had spent years building a careful, ordinary life.",
            "Everything about {topic} had been settled long ago, or so it seemed.",
            "{ally} and {hero} had been close once, before the argument nobody talked about.",
            (
                "The family gathered every autumn in the old house, and every autumn the same chair stayed"
                " empty."
            ),
            "{hero} kept {thing} in a drawer and never explained why.",
        ),
        rising=(
            "Then the news arrived, and the careful life began to crack.",
            "{ally} asked for help, and {hero} said no before thinking.",
            "Old words came back, sharper than they had been the first time.",
            "{rival} made it clear there would be a price for staying silent.",
            "{hero} sat in the car outside the house for an hour, unable to go in.",
            "Every conversation ended with a door closing a little too hard.",
            "Late at night, {hero} took out {thing} and finally remembered the whole story.",
        ),
        climax=(
            "In the kitchen, with the rain against the windows, everything was finally said out loud.",
            "{hero} had to choose between being right and being together.",
            "{ally} stopped at the door, and for a long moment neither of them moved.",
            "The choice was made, and it was the hardest thing {hero} had ever done.",
        ),
        ending=(
            "Not everything was fixed, but something had started to heal.",
            "That autumn, for the first time in years, every chair at the table was full.",
            "{hero} put {thing} on the shelf, where everyone could see it.",
            "Some wounds close slowly, and that is all right.",
        ),
        details=(
            "Rain tapped softly on the windows.",
            "The old house creaked and settled in the evening cold.",
            "A kettle boiled in the kitchen, and nobody moved to take it off.",
            "The silence between them said more than words could.",
            "Outside, the streetlights came on one by one.",
        ),
        beats=("Nobody spoke.", "Then, a breath.", "It hurt.", "Not yet.", "Silence.", "Finally."),
        closers=(
            "Sometimes the bravest thing we can do is simply come home.",
            "And the empty chair was empty no longer.",
        ),
        cameos=(
            "{name} had always tried to keep the peace.",
            "{name} saw everything and said nothing, for years.",
        ),
        places=("the old family house", "the hospital corridor", "the kitchen table"),
        things=("an old photograph", "a folded letter", "a wedding ring"),
        settings=(
            "a warm family kitchen on a rainy evening",
            "a quiet hospital corridor",
            "an old family house at dusk",
            "a car parked outside a house in the rain",
        ),
        subjects=(
            "rain running down a window at evening",
            "an empty chair at a set dinner table",
            "a folded letter on a kitchen table",
        ),
        actions=(
            "sitting alone at a kitchen table",
            "standing in a doorway, hesitating",
            "looking out of a rain-streaked window",
            "holding an old photograph",
        ),
        light=("soft grey daylight", "warm low lamplight", "cold blue evening light", "golden morning light"),
        titles=("{T}", "The Empty Chair", "Coming Home: {T}"),
    ),
}
