#!/usr/bin/env python3
# Writes data/tokenizer-corpus.txt: the plain-English text zili's demo and test tokenizers
# are trained on (BPE, 512 to 4000 pieces). Deterministic (seeded), built only from the
# templates and word lists below, so the corpus is ours and regenerates byte for byte.
#   scripts/make-tokenizer-corpus.py [--out data/tokenizer-corpus.txt] [--seed 20240607]
import argparse
import pathlib
import random

ANIMALS = """cat dog horse cow sheep goat pig duck goose hen rabbit mouse rat fox wolf bear deer
moose lion tiger leopard cheetah zebra giraffe elephant hippo rhino camel llama monkey gorilla
otter beaver badger hedgehog squirrel bat owl eagle hawk falcon sparrow robin crow raven parrot
penguin swan heron stork pelican flamingo frog toad newt lizard snake turtle tortoise crocodile
shark whale dolphin seal walrus octopus squid crab lobster shrimp salmon trout cod tuna eel
jellyfish starfish snail slug worm ant bee wasp beetle butterfly moth spider ladybird kangaroo
koala panda raccoon skunk donkey mule ferret lynx bison yak""".split()

COLOURS = """red orange yellow green blue purple violet pink brown black white grey silver gold
teal cyan magenta maroon navy olive lime beige cream ivory crimson scarlet amber indigo
turquoise lavender coral peach mint bronze copper charcoal""".split()

FOODS = """bread rice soup cheese butter apple pear plum cherry grape lemon orange banana mango
peach melon strawberry blueberry raspberry potato carrot onion garlic pepper tomato cucumber
lettuce cabbage spinach bean pea corn mushroom pumpkin noodles pasta pizza pancake waffle
porridge yogurt honey jam toast egg omelette salad sandwich biscuit cake pie muffin cookie
chocolate almond walnut peanut hazelnut oats lentils chickpeas tofu salmon sausage""".split()

PLACES = """kitchen garden library school market station harbour museum bakery hospital office
park forest beach island valley village city town river lake mountain desert meadow farm
barn castle tower bridge tunnel airport cafe restaurant theatre cinema stadium zoo
playground classroom hallway attic cellar garage workshop laboratory factory port lighthouse
cottage cabin campsite square street avenue shop pharmacy post-office bank hotel""".split()

OBJECTS = """book pencil pen notebook table chair lamp window door clock key map cup plate bowl
spoon fork knife bottle basket box bag hat coat scarf glove boot shoe umbrella ladder rope
hammer nail brush bucket candle mirror blanket pillow kettle teapot radio phone camera
computer keyboard screen bicycle wagon boat kite ball drum guitar violin piano flute
bell whistle compass telescope shovel wheelbarrow envelope stamp ticket coin wallet
backpack jacket sweater sock button ribbon needle thread""".split()

NAMES = """Anna Ben Clara David Elena Felix Grace Hugo Iris Jack Kira Leo Maya Noah Olivia
Peter Quinn Rosa Sam Tara Umar Vera Will Xena Yusuf Zoe Alice Bruno Chloe Daniel Emma Frank
Gina Henry Isla James Karen Liam Mia Nina Oscar Paula Ravi Sofia Tom Ursula Victor Wendy
Aaron Bella Carlos Dora Ethan Fiona George Hannah Ivan Julia Kevin Lucy Martin Nora Owen
Priya Rachel Simon Tessa Viktor Amir Lena Marco Sara""".split()

JOBS = """teacher baker farmer doctor nurse pilot driver painter builder carpenter gardener
librarian scientist engineer cook waiter singer dancer writer poet sailor fisher miner
tailor plumber electrician mechanic dentist vet judge lawyer clerk cashier guard ranger
reporter photographer architect potter weaver""".split()

ADJECTIVES = """big small tall short long wide narrow heavy light fast slow warm cold hot cool
bright dark quiet loud soft hard smooth rough old new young clean dirty full empty happy sad
calm busy lazy brave shy kind gentle clever curious careful strange simple round square
sharp dull sweet sour bitter salty fresh ripe wet dry thick thin deep shallow early late
tiny huge ancient modern noisy silent friendly sleepy hungry thirsty tired lucky proud
polite honest cheerful patient fierce graceful sturdy fragile shiny muddy dusty""".split()

VERBS = """walk run jump swim climb read write draw paint sing dance cook bake clean wash fix
build carry open close find lose keep give take bring send buy sell count measure plant
water feed watch listen learn teach help visit call answer ask explain remember forget
borrow lend fold cut mix pour stir boil fry share sort pack wrap lift push pull throw catch
kick follow lead choose collect repair paint describe compare""".split()

PAST = {"walk": "walked", "run": "ran", "jump": "jumped", "swim": "swam", "climb": "climbed",
        "read": "read", "write": "wrote", "draw": "drew", "paint": "painted", "sing": "sang",
        "dance": "danced", "cook": "cooked", "bake": "baked", "clean": "cleaned",
        "wash": "washed", "fix": "fixed", "build": "built", "carry": "carried",
        "open": "opened", "close": "closed", "find": "found", "lose": "lost", "keep": "kept",
        "give": "gave", "take": "took", "bring": "brought", "send": "sent", "buy": "bought",
        "sell": "sold", "count": "counted", "measure": "measured", "plant": "planted",
        "water": "watered", "feed": "fed", "watch": "watched", "listen": "listened",
        "learn": "learned", "teach": "taught", "help": "helped", "visit": "visited",
        "call": "called", "answer": "answered", "ask": "asked", "explain": "explained",
        "remember": "remembered", "forget": "forgot", "borrow": "borrowed", "lend": "lent",
        "fold": "folded", "cut": "cut", "mix": "mixed", "pour": "poured", "stir": "stirred",
        "boil": "boiled", "fry": "fried", "share": "shared", "sort": "sorted",
        "pack": "packed", "wrap": "wrapped", "lift": "lifted", "push": "pushed",
        "pull": "pulled", "throw": "threw", "catch": "caught", "kick": "kicked",
        "follow": "followed", "lead": "led", "choose": "chose", "collect": "collected",
        "repair": "repaired", "describe": "described", "compare": "compared"}

WEATHER = """sunny rainy cloudy windy foggy snowy stormy misty frosty humid mild chilly""".split()
DAYS = "Monday Tuesday Wednesday Thursday Friday Saturday Sunday".split()
MONTHS = """January February March April May June July August September October November
December""".split()
SEASONS = "spring summer autumn winter".split()
SHAPES = "circle square triangle rectangle oval diamond star hexagon pentagon cube sphere".split()
MATERIALS = "wood stone glass paper metal cotton wool clay plastic leather steel".split()
SUBJECTS = """maths history geography music art science reading spelling chemistry physics
biology astronomy poetry grammar""".split()
FEELINGS = "glad tired excited nervous surprised worried relieved bored puzzled hopeful".split()
HABITATS = {"forest": "deer fox owl squirrel badger bear wolf",
            "ocean": "whale dolphin shark octopus squid seal crab",
            "desert": "camel lizard snake scorpion",
            "farm": "cow sheep goat pig hen duck horse donkey",
            "river": "otter beaver trout heron frog salmon",
            "mountain": "goat eagle yak lynx",
            "grassland": "zebra lion giraffe cheetah bison"}

ONES = """zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen
fifteen sixteen seventeen eighteen nineteen""".split()
TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()


def words(n):
    """English words for 0 <= n < 1,000,000."""
    if n < 20:
        return ONES[n]
    if n < 100:
        return TENS[n // 10] + ("" if n % 10 == 0 else "-" + ONES[n % 10])
    if n < 1000:
        rest = n % 100
        return ONES[n // 100] + " hundred" + ("" if rest == 0 else " and " + words(rest))
    rest = n % 1000
    head = words(n // 1000) + " thousand"
    if rest == 0:
        return head
    return head + (" and " if rest < 100 else " ") + words(rest)


def ordinal(n):
    if 10 <= n % 100 <= 20:
        return f"{n}th"
    return f"{n}" + {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")


def a(word):
    return ("an " if word[0] in "aeiou" else "a ") + word


def plural(word):
    irregular = {"mouse": "mice", "goose": "geese", "sheep": "sheep", "deer": "deer",
                 "moose": "moose", "fish": "fish", "knife": "knives", "shelf": "shelves",
                 "wolf": "wolves", "bison": "bison", "salmon": "salmon", "trout": "trout",
                 "cod": "cod", "tuna": "tuna", "squid": "squid", "shrimp": "shrimp",
                 "yak": "yaks", "octopus": "octopuses", "bus": "buses"}
    if word in irregular:
        return irregular[word]
    if word.endswith(("s", "x", "ch", "sh")):
        return word + "es"
    if word.endswith("y") and word[-2] not in "aeiou":
        return word[:-1] + "ies"
    return word + "s"


def ing(verb):
    if verb in ("run", "swim", "cut", "stir", "wrap", "plan"):
        return verb + verb[-1] + "ing"
    if verb.endswith("e") and not verb.endswith("ee"):
        return verb[:-1] + "ing"
    return verb + "ing"


def cap(text):
    return text[0].upper() + text[1:]


class Corpus:
    def __init__(self, seed):
        self.rng = random.Random(seed)
        self.lines = []

    def pick(self, items):
        return self.rng.choice(items)

    def add(self, line):
        self.lines.append(line)

    # --- sections -------------------------------------------------------------------------
    def arithmetic(self, count):
        ops = [("plus", "+", lambda x, y: x + y), ("minus", "-", lambda x, y: x - y),
               ("times", "*", lambda x, y: x * y)]
        for _ in range(count):
            name, sign, fn = self.pick(ops)
            x, y = self.rng.randint(0, 99), self.rng.randint(0, 30)
            if name == "minus" and y > x:
                x, y = y, x
            z = fn(x, y)
            style = self.rng.randint(0, 6)
            if style == 0:
                self.add(f"What is {x} {name} {y}? It is {z}.")
            elif style == 1:
                self.add(f"{cap(words(x))} {name} {words(y)} is {words(z)}.")
            elif style == 2:
                self.add(f"{x} {sign} {y} = {z}")
            elif style == 3:
                self.add(f"Q: How much is {words(x)} {name} {words(y)}?")
                self.add(f"A: {cap(words(x))} {name} {words(y)} equals {words(z)} ({z}).")
            elif style == 4:
                self.add(f"If you have {x} apples and you get {y} more, you have {x + y} apples.")
            elif style == 5 and y != 0:
                q, r = divmod(x, y)
                tail = "" if r == 0 else f" with {r} left over"
                self.add(f"{x} divided by {y} is {q}{tail}.")
            else:
                self.add(f"Add {x} and {y}: the sum is {x + y}, and the difference is "
                         f"{abs(x - y)}.")

    def number_facts(self, count):
        for _ in range(count):
            n = self.rng.choice([self.rng.randint(0, 120), self.rng.randint(100, 9999),
                                 self.rng.randint(10000, 999999)])
            style = self.rng.randint(0, 7)
            if style == 0:
                self.add(f"The number {n} is written as {words(n)}.")
            elif style == 1:
                kind = "even" if n % 2 == 0 else "odd"
                self.add(f"{n} is an {kind} number.")
            elif style == 2:
                self.add(f"{cap(words(n))} comes right after {words(n - 1) if n else 'nothing'}.")
            elif style == 3:
                self.add(f"Half of {2 * n} is {n}, and double {n} is {2 * n}.")
            elif style == 4 and n < 1000:
                self.add(f"The square of {n} is {n * n}.")
            elif style == 5:
                self.add(f"{n:,} has {len(str(n))} digits.")
            elif style == 6:
                self.add(f"Count on from {n}: {n + 1}, {n + 2}, {n + 3}, {n + 4}.")
            else:
                self.add(f"Is {n} bigger than {n // 2 + 7}? "
                         f"{'Yes' if n > n // 2 + 7 else 'No'}.")
        for n in range(1, 32):
            self.add(f"The {ordinal(n)} day of the month; {words(n)} in words.")

    def measurements(self, count):
        units = ["kilometres", "metres", "centimetres", "grams", "kilograms", "litres",
                 "minutes", "hours", "seconds", "degrees", "percent", "miles"]
        for _ in range(count):
            style = self.rng.randint(0, 7)
            x = self.rng.randint(1, 500)
            if style == 0:
                self.add(f"The {self.pick(OBJECTS)} costs ${self.rng.randint(1, 99)}."
                         f"{self.rng.randint(0, 99):02d}.")
            elif style == 1:
                self.add(f"It is {x % 40 - 5} degrees outside and {self.pick(WEATHER)}.")
            elif style == 2:
                self.add(f"The train leaves at {self.rng.randint(0, 23):02d}:"
                         f"{self.rng.randint(0, 59):02d} from platform {self.rng.randint(1, 12)}.")
            elif style == 3:
                self.add(f"We walked {x / 10:.1f} {self.pick(units)} today.")
            elif style == 4:
                self.add(f"About {self.rng.randint(1, 99)}% of the {plural(self.pick(ANIMALS))}"
                         f" were asleep.")
            elif style == 5:
                self.add(f"Pi is roughly 3.14, and {x} times 3.14 is about {x * 3.14:.2f}.")
            elif style == 6:
                d = self.rng.randint(1, 28)
                self.add(f"Her birthday is on {self.pick(MONTHS)} {d}, "
                         f"{self.rng.randint(1950, 2024)}"
                         f" ({d:02d}/{self.rng.randint(1, 12):02d}).")
            else:
                self.add(f"Room {x}, floor {x % 9 + 1}; call extension "
                         f"{self.rng.randint(1000, 9999)}.")

    def animal_facts(self, count):
        for habitat, names in HABITATS.items():
            for name in names.split():
                self.add(f"{cap(plural(name))} can be found in the {habitat}.")
        for _ in range(count):
            animal = self.pick(ANIMALS)
            style = self.rng.randint(0, 8)
            if style == 0:
                self.add(f"The {animal} is {self.pick(COLOURS)} and {self.pick(ADJECTIVES)}.")
            elif style == 1:
                self.add(f"{cap(a(animal))} visited our {self.pick(PLACES)} "
                         f"{words(self.rng.randint(2, 9))} times.")
            elif style == 2:
                self.add(f"A young {animal} likes to {self.pick(VERBS)} near the "
                         f"{self.pick(PLACES)}.")
            elif style == 3:
                self.add(f"{cap(plural(animal))} eat {plural(self.pick(FOODS))}, or so the "
                         f"story says.")
            elif style == 4:
                self.add(f"Which is faster, {a(animal)} or {a(self.pick(ANIMALS))}?")
            elif style == 5:
                n = self.rng.randint(2, 40)
                self.add(f"We counted {n} {plural(animal)} ({words(n)}) by the "
                         f"{self.pick(PLACES)}.")
            elif style == 6:
                self.add(f"In the picture book, {a(animal)} sleeps "
                         f"{self.rng.randint(2, 20)} hours a day.")
            elif style == 7:
                self.add(f"The {self.pick(ADJECTIVES)} {animal} hid behind the "
                         f"{self.pick(OBJECTS)}.")
            else:
                self.add(f"\"Look, {a(animal)}!\" said {self.pick(NAMES)}.")

    def colours(self, count):
        mixes = [("red", "yellow", "orange"), ("blue", "yellow", "green"),
                 ("red", "blue", "purple"), ("black", "white", "grey"),
                 ("red", "white", "pink"), ("blue", "white", "light blue")]
        for x, y, z in mixes:
            self.add(f"If you mix {x} and {y}, you get {z}.")
        for _ in range(count):
            style = self.rng.randint(0, 5)
            colour = self.pick(COLOURS)
            if style == 0:
                self.add(f"The {self.pick(OBJECTS)} on the table is {colour}.")
            elif style == 1:
                self.add(f"My favourite colour is {colour}; {self.pick(NAMES)} prefers "
                         f"{self.pick(COLOURS)}.")
            elif style == 2:
                self.add(f"Paint the {self.pick(SHAPES)} {colour} and the "
                         f"{self.pick(SHAPES)} {self.pick(COLOURS)}.")
            elif style == 3:
                self.add(f"The sky turned {colour} at sunset.")
            elif style == 4:
                clothes = ["hat", "coat", "scarf", "dress", "shirt"]
                self.add(f"She wore a {colour} {self.pick(clothes)}"
                         f" made of {self.pick(MATERIALS)}.")
            else:
                self.add(f"What colour is the {self.pick(FOODS)}? Usually it is {colour}.")

    def places(self, count):
        for _ in range(count):
            place = self.pick(PLACES)
            name = self.pick(NAMES)
            style = self.rng.randint(0, 7)
            if style == 0:
                self.add(f"{name} went to the {place} on {self.pick(DAYS)}.")
            elif style == 1:
                self.add(f"The {place} is {self.rng.randint(2, 90)} minutes away by "
                         f"{self.pick(['bus', 'train', 'bicycle', 'boat', 'car'])}.")
            elif style == 2:
                self.add(f"In {self.pick(SEASONS)}, the {place} is {self.pick(ADJECTIVES)} and "
                         f"{self.pick(ADJECTIVES)}.")
            elif style == 3:
                self.add(f"Turn left at the {place}, then walk past the {self.pick(PLACES)}.")
            elif style == 4:
                self.add(f"There is {a(self.pick(ADJECTIVES))} {self.pick(OBJECTS)} in the "
                         f"{place}.")
            elif style == 5:
                self.add(f"{name} works as {a(self.pick(JOBS))} at the {place}.")
            elif style == 6:
                self.add(f"The {place} opens at {self.rng.randint(6, 11)} a.m. and closes at "
                         f"{self.rng.randint(4, 11)} p.m.")
            else:
                self.add(f"Where is the {place}? It is next to the {self.pick(PLACES)}.")

    def instructions(self, count):
        for _ in range(count):
            style = self.rng.randint(0, 11)
            if style == 0:
                items = self.rng.sample(FOODS, 3)
                self.add(f"Instruction: List three foods.")
                self.add(f"Answer: {cap(items[0])}, {items[1]} and {items[2]}.")
            elif style == 1:
                animal = self.pick(ANIMALS)
                self.add(f"Instruction: Describe {a(animal)} in one sentence.")
                self.add(f"Answer: {cap(a(animal))} is {a(self.pick(ADJECTIVES))} animal that "
                         f"lives near the {self.pick(PLACES)}.")
            elif style == 2:
                verb = self.pick(VERBS)
                self.add(f"Instruction: Give the past tense of \"{verb}\".")
                self.add(f"Answer: The past tense of \"{verb}\" is \"{PAST[verb]}\".")
            elif style == 3:
                word = self.pick(ANIMALS + OBJECTS)
                self.add(f"Instruction: Write the plural of {word}.")
                self.add(f"Answer: {plural(word)}")
            elif style == 4:
                x, y = self.rng.randint(1, 50), self.rng.randint(1, 50)
                self.add(f"Instruction: Which number is larger, {x} or {y}?")
                self.add(f"Answer: {max(x, y)} is larger." if x != y else
                         f"Answer: They are equal.")
            elif style == 5:
                adj = self.pick(ADJECTIVES)
                opposite = {"big": "small", "tall": "short", "fast": "slow", "warm": "cool",
                            "hot": "cold", "bright": "dark", "quiet": "loud", "soft": "hard",
                            "old": "new", "clean": "dirty", "full": "empty", "happy": "sad",
                            "wet": "dry", "thick": "thin", "deep": "shallow", "early": "late",
                            "heavy": "light", "wide": "narrow", "sweet": "sour"}
                if adj in opposite:
                    self.add(f"Instruction: What is the opposite of \"{adj}\"?")
                    self.add(f"Answer: The opposite of \"{adj}\" is \"{opposite[adj]}\".")
                else:
                    self.add(f"Instruction: Use the word \"{adj}\" in a sentence.")
                    self.add(f"Answer: The {self.pick(OBJECTS)} looked {adj} in the "
                             f"{self.pick(['morning', 'evening', 'rain', 'sun', 'snow'])}.")
            elif style == 6:
                steps = self.rng.sample(VERBS, 3)
                obj = self.pick(OBJECTS)
                self.add(f"Instruction: Explain how to look after {a(obj)}.")
                self.add(f"Answer: First, {steps[0]} it. Next, {steps[1]} it carefully. "
                         f"Finally, {steps[2]} it and put it away.")
            elif style == 7:
                word = self.pick(ANIMALS + FOODS + COLOURS)
                self.add(f"Instruction: Spell the word \"{word}\" letter by letter.")
                self.add(f"Answer: {'-'.join(word.upper())}")
            elif style == 8:
                n = self.rng.randint(0, 999)
                self.add(f"Instruction: Write {n} in words.")
                self.add(f"Answer: {words(n)}")
            elif style == 9:
                month = self.rng.randrange(12)
                self.add(f"Instruction: Which month comes after {MONTHS[month]}?")
                self.add(f"Answer: {MONTHS[(month + 1) % 12]}.")
            elif style == 10:
                subject = self.pick(SUBJECTS)
                self.add(f"Instruction: Suggest a short plan for studying {subject}.")
                self.add(f"Answer: Study {subject} for {self.rng.randint(10, 60)} minutes, "
                         f"take a break, then review your notes.")
            else:
                name, job = self.pick(NAMES), self.pick(JOBS)
                self.add(f"Instruction: Summarise: {name} is {a(job)} who likes to "
                         f"{self.pick(VERBS)} and {self.pick(VERBS)}.")
                self.add(f"Answer: {name} is {a(job)} with two hobbies.")

    def dialogue(self, count):
        openers = ["Good morning", "Hello", "Hi there", "Excuse me", "Good evening", "Hey"]
        for _ in range(count):
            x, y = self.rng.sample(NAMES, 2)
            style = self.rng.randint(0, 7)
            if style == 0:
                self.add(f"{x}: {self.pick(openers)}, {y}! How are you today?")
                self.add(f"{y}: I'm {self.pick(FEELINGS)}, thanks. And you?")
            elif style == 1:
                thing = self.pick(OBJECTS)
                self.add(f"{x}: Could you pass me the {thing}, please?")
                self.add(f"{y}: Of course. Here you are.")
            elif style == 2:
                place = self.pick(PLACES)
                self.add(f"{x}: Do you know where the {place} is?")
                self.add(f"{y}: Yes; it's about {self.rng.randint(2, 30)} minutes on foot.")
            elif style == 3:
                food = self.pick(FOODS)
                meal = self.pick(["breakfast", "lunch", "dinner"])
                self.add(f"{x}: What would you like for {meal}?")
                self.add(f"{y}: Some {food}, if there's any left.")
            elif style == 4:
                self.add(f"{x}: Isn't it {self.pick(WEATHER)} today?")
                self.add(f"{y}: It is! I wish I had brought my {self.pick(OBJECTS)}.")
            elif style == 5:
                verb = self.pick(VERBS)
                self.add(f"\"Can you help me {verb} this?\" asked {x}.")
                self.add(f"\"Sure,\" said {y}, \"give me a minute.\"")
            elif style == 6:
                n = self.rng.randint(2, 12)
                self.add(f"{x}: How many {plural(self.pick(ANIMALS))} did you see?")
                self.add(f"{y}: I saw {words(n)} -- no, wait, {words(n + 1)}!")
            else:
                self.add(f"{x}: Why is the {self.pick(OBJECTS)} {self.pick(COLOURS)}?")
                self.add(f"{y}: Because somebody painted it; I don't know who.")

    def stories(self, count):
        for _ in range(count):
            name, animal, place = self.pick(NAMES), self.pick(ANIMALS), self.pick(PLACES)
            verb, adj = self.pick(VERBS), self.pick(ADJECTIVES)
            day = self.pick(DAYS)
            style = self.rng.randint(0, 6)
            if style == 0:
                self.add(f"On {day}, {name} {PAST[verb]} near the {place} and saw "
                         f"{a(adj)} {animal}.")
            elif style == 1:
                self.add(f"Once upon a time, {a(adj)} {animal} lived in a {place}. Every "
                         f"morning it would {verb}.")
            elif style == 2:
                self.add(f"{name} was {self.pick(FEELINGS)} because the {self.pick(OBJECTS)} "
                         f"was missing; later it turned up in the {place}.")
            elif style == 3:
                self.add(f"After {self.pick(SUBJECTS)} class, {name} and "
                         f"{self.pick(NAMES)} {PAST[self.pick(VERBS)]} together.")
            elif style == 4:
                self.add(f"The {self.pick(JOBS)} {PAST[verb]} the {self.pick(OBJECTS)} "
                         f"before it got {self.pick(['dark', 'late', 'cold', 'busy'])}.")
            elif style == 5:
                self.add(f"In {self.pick(MONTHS)}, the {plural(animal)} return to the "
                         f"{place}, and the {plural(self.pick(JOBS))} go home.")
            else:
                self.add(f"\"{cap(verb)} slowly,\" {name} whispered, \"or the {animal} will "
                         f"wake up.\"")

    def lists_and_punctuation(self, count):
        for _ in range(count):
            style = self.rng.randint(0, 7)
            if style == 0:
                items = self.rng.sample(OBJECTS, 4)
                self.add(f"Shopping list: {items[0]}; {items[1]}; {items[2]}; {items[3]}.")
            elif style == 1:
                self.add(f"- {cap(self.pick(VERBS))} the {self.pick(OBJECTS)}")
            elif style == 2:
                n = self.rng.randint(1, 9)
                self.add(f"{n}. {cap(self.pick(VERBS))} {self.rng.randint(2, 9)} "
                         f"{plural(self.pick(FOODS))}.")
            elif style == 3:
                self.add(f"Note (important!): bring your {self.pick(OBJECTS)} and "
                         f"{self.pick(OBJECTS)} on {self.pick(DAYS)}.")
            elif style == 4:
                self.add(f"WARNING: the {self.pick(PLACES)} is closed until "
                         f"{self.pick(MONTHS)} {self.rng.randint(1, 28)}.")
            elif style == 5:
                self.add(f"Why? Because the {self.pick(ANIMALS)} ate the {self.pick(FOODS)}...")
            elif style == 6:
                self.add(f"Email {self.pick(NAMES).lower()}@example.com or visit "
                         f"www.{self.pick(PLACES)}-{self.rng.randint(1, 99)}.org for more.")
            else:
                self.add(f"[{self.pick(SHAPES)}] {{{self.pick(COLOURS)}}} <{self.pick(MATERIALS)}>"
                         f" & {self.pick(ANIMALS)} / {self.pick(FOODS)} "
                         f"#{self.rng.randint(1, 999)}")

    def dictionary(self):
        # Every word of every list appears at least once, so rare words still get pieces.
        groups = [("animal", ANIMALS), ("colour", COLOURS), ("food", FOODS), ("place", PLACES),
                  ("object", OBJECTS), ("job", JOBS), ("word", ADJECTIVES), ("verb", VERBS),
                  ("name", NAMES), ("subject", SUBJECTS), ("shape", SHAPES),
                  ("material", MATERIALS)]
        for label, items in groups:
            for word in items:
                self.add(f"\"{word}\" is {a(label)}.")
        for verb in sorted(PAST):
            self.add(f"Today I {verb}; yesterday I {PAST[verb]}; I am {ing(verb)} now.")
        for n in range(0, 101):
            self.add(f"{n} = {words(n)}")


def main():
    parser = argparse.ArgumentParser(description="Write the tokenizer training corpus.")
    root = pathlib.Path(__file__).resolve().parent.parent
    parser.add_argument("--out", default=str(root / "data" / "tokenizer-corpus.txt"))
    parser.add_argument("--seed", type=int, default=20240607)
    args = parser.parse_args()

    corpus = Corpus(args.seed)
    corpus.dictionary()
    corpus.arithmetic(480)
    corpus.number_facts(350)
    corpus.measurements(250)
    corpus.animal_facts(350)
    corpus.colours(180)
    corpus.places(300)
    corpus.instructions(420)
    corpus.dialogue(300)
    corpus.stories(320)
    corpus.lists_and_punctuation(250)
    # Mixed order, so no training window sees only one kind of line.
    corpus.rng.shuffle(corpus.lines)
    text = "\n".join(corpus.lines) + "\n"
    out = pathlib.Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(text.encode("utf-8"))
    print(f"{out}: {len(corpus.lines)} lines, {len(text.encode('utf-8'))} bytes")


if __name__ == "__main__":
    main()
