"""Offline stand-ins for the text corpora of the NLP experiment (docs/method.md §9.5).

The paper's NLP experiment fine-tunes classifiers on AG News, Fake News and Yelp Polarity
and transfers them to IMDB. None of these can be fetched offline, so the offline
configuration generates four small corpora from templates and a seed. They are
**stand-ins, not samples of the real data**: short English texts that keep the structure
that matters for the experiment --

* ``movie_reviews`` (stands in for IMDB, the target): binary sentiment of film reviews;
* ``restaurant_reviews`` (Yelp Polarity): binary sentiment of restaurant reviews. It
  shares the general sentiment vocabulary ("great", "terrible", ...) with the movie
  reviews but not the domain words, as Yelp and IMDB do;
* ``news_topics`` (AG News): four topics (World, Sports, Business, Sci/Tech) in a neutral
  wire-service register, with no sentiment signal;
* ``news_reliability`` (Fake News): reliable (attributed, measured) versus unreliable
  (sensational, unattributed) news texts on the same topics.

Reviews mix polarities: most carry a contrasting clause ("Although the plot was dull,
...") or a negated opposite ("the ending was never boring"), and about a third carry no
closing verdict, so the label needs more than one keyword. A small fraction of labels is
flipped (``label_noise``), as in crowd-labelled data. Generation is a pure function of
``(kind, n, seed)``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = ["CORPORA", "corpus_classes", "generate_corpus", "word_polarity"]

# ---------------------------------------------------------------- shared vocabulary

_POS_GENERAL = [
    "great", "excellent", "wonderful", "superb", "brilliant", "fantastic", "lovely",
    "amazing", "enjoyable", "impressive", "solid", "pleasant", "perfect", "outstanding",
    "memorable", "fine", "nice", "terrific",
]
_NEG_GENERAL = [
    "terrible", "awful", "poor", "dreadful", "horrible", "disappointing", "mediocre",
    "weak", "lousy", "bad", "annoying", "forgettable", "sloppy", "painful", "miserable",
    "boring", "dull", "unpleasant",
]
_INTENSIFIERS = ["really", "truly", "very", "quite", "genuinely", "absolutely", "rather",
                 "surprisingly", "incredibly", "pretty"]
_DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
_NUMBER_WORDS = ["one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
                 "ten"]

# ---------------------------------------------------------------- reviews

_MOVIE = {
    "kinds": {
        "film": (["gripping", "moving", "touching", "witty", "clever", "stunning",
                  "haunting", "powerful", "charming", "fresh", "beautiful", "convincing"],
                 ["predictable", "clumsy", "tedious", "lifeless", "silly", "confusing",
                  "pointless", "shallow", "messy", "slow", "bland", "stale"]),
    },
    "aspects": dict.fromkeys(
        ["acting", "plot", "script", "dialogue", "soundtrack", "score", "cinematography",
         "ending", "pacing", "direction", "cast", "story", "lead actor", "lead actress",
         "villain", "special effects", "editing", "humor", "camera work", "final act"],
        "film"),
    "openers": [
        "I watched this film with my {who} last {when}.",
        "We rented this movie on a {day} night.",
        "I finally saw the new {genre} everyone has been talking about.",
        "This {genre} came out last {when} and I went in with {expect} expectations.",
        "I caught this picture at a late show with my {who}.",
        "My {who} picked this {genre} for our movie night.",
        "I saw this {genre} on a long flight.",
        "This is the second {genre} from this director.",
    ],
    "neutral": [
        "The story follows a {role} who {plot}.",
        "It runs a little under {hours} hours.",
        "The film is set in {place} during {era}.",
        "It is based on a {origin}.",
        "Most of it was shot in {place}.",
        "The {role} is played by a newcomer.",
        "It opens with a long scene in {place}.",
    ],
    "role": ["retired detective", "young nurse", "struggling musician", "small-town teacher",
             "family of farmers", "group of students", "former soldier", "lonely widow"],
    "plot": ["returns home after twenty years", "tries to solve an old murder",
             "falls in love with a stranger", "loses everything in a storm",
             "searches for a missing brother", "starts a band", "runs for mayor"],
    "place": ["Paris", "a small fishing village", "New York", "the desert", "a ski resort",
              "Tokyo", "a prison", "the suburbs"],
    "era": ["the war", "the sixties", "the eighties", "a long winter", "the gold rush"],
    "origin": ["true story", "novel", "comic book", "stage play", "short story"],
    "who": ["wife", "husband", "kids", "parents", "friends", "roommate", "sister",
            "brother", "girlfriend", "boyfriend", "family"],
    "genre": ["thriller", "comedy", "drama", "western", "horror movie", "romance",
              "war film", "documentary", "musical", "crime story", "animated feature",
              "science fiction film", "period piece"],
    "verdict_pos": [
        "I would happily watch it again.", "Highly recommended.",
        "Easily one of the best films of the year.", "Go and see it.",
        "I left the cinema smiling.", "{score} out of ten.", "A real treat.",
        "I will be buying this one.",
    ],
    "verdict_neg": [
        "I want those two hours back.", "Avoid this one.",
        "One of the worst films I have seen in years.", "Save your money.",
        "I nearly walked out.", "{score} out of ten.", "What a waste of time.",
        "Skip it.",
    ],
}

_RESTAURANT = {
    # adjectives by aspect kind: {kind: (positive, negative)}
    "kinds": {
        "dish": (["delicious", "tasty", "fresh", "flavorful", "crisp", "warm", "generous"],
                 ["bland", "greasy", "stale", "soggy", "cold", "salty", "overcooked"]),
        "people": (["friendly", "attentive", "quick", "helpful", "polite", "welcoming"],
                   ["rude", "slow", "careless", "unfriendly", "pushy", "clueless"]),
        "room": (["cozy", "spotless", "bright", "relaxed", "charming", "quiet"],
                 ["cramped", "dirty", "noisy", "dark", "shabby", "smelly"]),
    },
    "aspects": {"food": "dish", "pasta": "dish", "pizza": "dish", "burger": "dish",
                "dessert": "dish", "coffee": "dish", "salad": "dish", "steak": "dish",
                "fries": "dish", "soup": "dish", "sushi": "dish", "breakfast": "dish",
                "service": "people", "staff": "people", "waiter": "people",
                "waitress": "people", "bartender": "people", "manager": "people",
                "atmosphere": "room", "patio": "room", "dining room": "room",
                "decor": "room"},
    "openers": [
        "We came here for {meal} on a {day}.",
        "I stopped by this place with my {who} last {when}.",
        "Our group of {n} had {meal} here.",
        "This {place} opened near my office last {when}.",
        "I ordered takeout from this {place} on a {day} evening.",
        "My {who} booked a table here for my birthday.",
        "We tried this {place} after reading the reviews.",
        "I have been to this {place} a few times now.",
    ],
    "neutral": [
        "The menu has {n} pages of {cuisine} dishes.",
        "They only take reservations on weekends.",
        "It sits next to a {shop} on the main street.",
        "Parking is on the street.",
        "We ordered the {dish} and the {dish2}.",
        "The kitchen is open until {time}.",
        "It used to be a {shop} before it became a {place}.",
    ],
    "cuisine": ["Italian", "Mexican", "Thai", "Greek", "Korean", "French", "Indian"],
    "shop": ["bank", "bookstore", "pharmacy", "gas station", "laundromat", "hardware store"],
    "dish": ["chicken", "noodles", "tacos", "lamb", "salmon", "dumplings", "risotto", "curry"],
    "time": ["ten", "eleven", "midnight", "nine"],
    "who": ["wife", "husband", "kids", "parents", "friends", "coworkers", "sister",
            "brother", "girlfriend", "boyfriend", "family"],
    "meal": ["lunch", "dinner", "brunch", "breakfast", "a late dinner", "drinks"],
    "place": ["restaurant", "diner", "cafe", "bistro", "pizzeria", "steakhouse",
              "noodle bar", "bakery", "taqueria", "sushi bar"],
    "verdict_pos": [
        "We will definitely be back.", "Highly recommended.", "Five stars.",
        "Best {meal} in town.", "I cannot wait to come back.", "Worth every penny.",
        "A new favorite.", "Go there.",
    ],
    "verdict_neg": [
        "Never again.", "Avoid this place.", "One star is too many.",
        "We will not be back.", "Save your money.", "What a waste of an evening.",
        "I would not recommend it.", "Skip it.",
    ],
}


def _aspect_clauses(
    rng: np.random.Generator, lex: dict, adjective: Callable[[str, int], str], own: int,
    other: int,
) -> list[tuple[str, bool]]:
    """1-3 aspect clauses of polarity ``own`` (one may contrast with polarity ``other``),
    each as ``(clause without final stop, declarative?)``."""
    aspects = [str(a) for a in rng.choice(sorted(lex["aspects"]), size=6, replace=False)]
    clauses: list[tuple[str, bool]] = []
    for i in range(int(rng.integers(1, 4))):
        aspect, intens = aspects[i], str(rng.choice(_INTENSIFIERS))
        adj = adjective(aspect, own)
        form = int(rng.integers(0, 6))
        if form == 0:
            clauses.append((f"the {aspect} was {adj}", True))
        elif form == 1:
            clauses.append((f"I thought the {aspect} was {intens} {adj}", True))
        elif form == 2:
            second = aspects[4]
            pair = f"the {aspect} is {adj} and the {second} is {adjective(second, own)}"
            clauses.append((pair, True))
        elif form == 3:
            article = "an" if adj[0] in "aeiou" else "a"
            clauses.append((f"what {article} {adj} {aspect}!", False))
        elif form == 4:
            clauses.append((f"everything about the {aspect} felt {intens} {adj}", True))
        else:  # negated opposite: "the plot was never boring"
            neg = str(rng.choice(["never", "not", "not at all"]))
            clauses.append((f"the {aspect} was {neg} {adjective(aspect, other)}", True))
    declarative = [i for i, (_, plain) in enumerate(clauses) if plain]
    if declarative and rng.random() < 0.6:  # one contrasting clause
        where = int(rng.choice(declarative))
        joint = str(rng.choice(["although", "even though", "while"]))
        contrast = aspects[5]
        opposite = adjective(contrast, other)
        clauses[where] = (f"{joint} the {contrast} was {opposite}, {clauses[where][0]}", True)
    return clauses


def _review(rng: np.random.Generator, lex: dict, positive: bool) -> str:
    """One review: opener, 1-2 neutral sentences, 1-3 aspect clauses (one may contrast),
    optional verdict."""
    own, other = (0, 1) if positive else (1, 0)
    general = (_POS_GENERAL, _NEG_GENERAL)

    def adjective(aspect: str, polarity: int) -> str:
        if rng.random() < 0.5:
            return str(rng.choice(general[polarity]))
        return str(rng.choice(lex["kinds"][lex["aspects"][aspect]][polarity]))

    def fill(template: str) -> str:
        values = {
            "who": rng.choice(lex["who"]),
            "when": rng.choice(["week", "month", "year", "weekend", "summer"]),
            "day": rng.choice(_DAYS), "expect": rng.choice(["high", "low", "modest"]),
            "n": rng.choice(_NUMBER_WORDS[2:8]), "hours": rng.choice(["two", "three"]),
        }
        for key in ("genre", "meal", "place", "role", "plot", "era", "origin", "cuisine",
                    "shop", "dish", "time"):
            if key in lex:
                values[key] = rng.choice(lex[key])
        if "dish" in lex:
            values["dish"], values["dish2"] = rng.choice(lex["dish"], size=2, replace=False)
        return template.format(**{k: str(v) for k, v in values.items()})

    clauses = _aspect_clauses(rng, lex, adjective, own, other)
    sentences = [fill(str(rng.choice(lex["openers"])))]
    n_neutral = int(rng.integers(1, 3))
    sentences += [fill(str(t)) for t in rng.choice(lex["neutral"], size=n_neutral, replace=False)]
    for clause, plain in clauses:
        sentences.append(clause[0].upper() + clause[1:] + ("." if plain else ""))
    if rng.random() < 0.65:
        verdict = str(rng.choice(lex["verdict_pos" if positive else "verdict_neg"]))
        score = rng.choice(_NUMBER_WORDS[6:10] if positive else _NUMBER_WORDS[0:4])
        sentences.append(fill(verdict.replace("{score}", str(score).capitalize())))
    return " ".join(sentences)


def _movie_reviews(rng: np.random.Generator, n: int) -> tuple[list[str], np.ndarray]:
    labels = rng.integers(0, 2, size=n)
    return [_review(rng, _MOVIE, bool(y)) for y in labels], labels


def _restaurant_reviews(rng: np.random.Generator, n: int) -> tuple[list[str], np.ndarray]:
    labels = rng.integers(0, 2, size=n)
    return [_review(rng, _RESTAURANT, bool(y)) for y in labels], labels


# ---------------------------------------------------------------- news

_COUNTRIES = ["France", "Germany", "Japan", "Brazil", "India", "Kenya", "Canada",
              "Mexico", "Egypt", "Turkey", "Poland", "Chile", "Vietnam", "Norway",
              "Nigeria", "Spain", "Indonesia", "Peru"]
_AGENCIES = ["Reuters", "AP", "AFP"]
_TOPICS = {
    0: {  # World
        "subjects": ["the prime minister", "the president", "the foreign minister",
                     "the opposition leader", "rebel commanders", "the defense ministry",
                     "election officials", "peacekeepers", "the parliament"],
        "things": ["ceasefire", "border dispute", "peace talks", "election results",
                   "refugee crisis", "nuclear program", "sanctions", "troop withdrawal",
                   "coalition government", "hostage talks"],
        "verbs": ["rejected", "welcomed", "discussed", "postponed", "demanded",
                  "criticized", "negotiated"],
        "tail": ["as protests continued in the capital", "ahead of a regional summit",
                 "after a deadly bombing near the border", "as diplomats gathered in {c2}",
                 "amid fears of renewed fighting", "before the vote"],
    },
    1: {  # Sports
        "subjects": ["the home team", "the defending champions", "the national side",
                     "the league leaders", "the veteran striker", "the young goalkeeper",
                     "the head coach", "the captain", "the underdogs"],
        "things": ["championship", "playoff series", "season opener", "title race",
                   "penalty shootout", "final round", "transfer window", "home game",
                   "world cup qualifier", "tournament"],
        "verbs": ["won", "lost", "clinched", "drew", "dominated", "squandered", "secured"],
        "tail": ["with two goals in the second half", "in front of a record crowd",
                 "after extra time", "despite an injury to the captain",
                 "to stay top of the table", "on a late penalty"],
    },
    2: {  # Business
        "subjects": ["the carmaker", "the central bank", "the airline", "the retailer",
                     "investors", "the chip maker", "the oil company", "shareholders",
                     "the insurer"],
        "things": ["quarterly profit", "merger", "interest rates", "share price",
                   "earnings forecast", "job cuts", "takeover bid", "bond sale",
                   "sales figures", "dividend"],
        "verbs": ["reported", "raised", "cut", "announced", "approved", "revised",
                  "delayed"],
        "tail": ["as oil prices climbed", "sending its stock up {p} percent",
                 "after weak consumer spending", "on strong demand in {c2}",
                 "as markets closed lower", "amid a slowing economy"],
    },
    3: {  # Sci/Tech
        "subjects": ["researchers", "the software maker", "astronomers", "the space agency",
                     "engineers", "the search giant", "scientists", "the phone maker",
                     "a startup"],
        "things": ["new processor", "operating system update", "Mars probe", "gene study",
                   "security flaw", "battery technology", "search engine", "satellite",
                   "web browser", "robot"],
        "verbs": ["unveiled", "tested", "patched", "launched", "released", "discovered",
                  "demonstrated"],
        "tail": ["at a conference in {c2}", "in a paper published this week",
                 "ahead of the holiday season", "to compete with rival products",
                 "using data from a telescope", "after months of testing"],
    },
}
_NEWS_CLASSES = ["World", "Sports", "Business", "Sci/Tech"]


def _fill_news(rng: np.random.Generator, text: str) -> str:
    return text.format(c2=rng.choice(_COUNTRIES), p=rng.choice(_NUMBER_WORDS[1:8]))


def _news_item(rng: np.random.Generator, topic: int) -> str:
    lex = _TOPICS[topic]
    country, agency, day = rng.choice(_COUNTRIES), rng.choice(_AGENCIES), rng.choice(_DAYS)
    subject, thing = rng.choice(lex["subjects"]), rng.choice(lex["things"])
    verb, tail = rng.choice(lex["verbs"]), rng.choice(lex["tail"])
    headline = f"{str(subject).capitalize()} {verb} {thing} in {country}"
    body = (f"{country} ({agency}) - {str(subject).capitalize()} {verb} the {thing} on "
            f"{day} {tail}.")
    extra = [
        f"Officials said the {rng.choice(lex['things'])} would be discussed again next week.",
        f"Analysts expect {rng.choice(lex['subjects'])} to respond by {rng.choice(_DAYS)}.",
        f"It was the {rng.choice(['first', 'second', 'third'])} such {thing} this year.",
    ]
    parts = [headline + ".", body] + [str(e) for e in rng.choice(extra, size=int(
        rng.integers(1, 3)), replace=False)]
    return _fill_news(rng, " ".join(parts))


def _news_topics(rng: np.random.Generator, n: int) -> tuple[list[str], np.ndarray]:
    labels = rng.integers(0, 4, size=n)
    return [_news_item(rng, int(y)) for y in labels], labels


_RELIABLE = {
    "lead": ["{Country} officials said on {day} that",
             "According to a statement released by the ministry on {day},",
             "In a report published on {day}, the agency said that",
             "A spokesperson for the government confirmed on {day} that",
             "Data released on {day} showed that"],
    "close": ["The ministry said further details would follow next week.",
              "Independent experts said the figures were in line with earlier estimates.",
              "The agency did not comment on the timing of the decision.",
              "The findings were reviewed by two independent panels.",
              "Officials declined to speculate on the outcome."],
}
_UNRELIABLE = {
    "lead": ["SHOCKING: insiders claim that", "You will not believe this, but",
             "BOMBSHELL report exposes how",
             "What the mainstream media will not tell you is that",
             "Anonymous sources reveal that", "EXPOSED: leaked documents prove that"],
    "close": ["Share this before it gets deleted!", "Wake up, people!",
              "They do not want you to know the truth.", "The elites are terrified.",
              "Doctors hate this one simple trick.", "Spread the word before they ban it!"],
}


def _reliability_item(rng: np.random.Generator, unreliable: bool) -> str:
    topic = _TOPICS[int(rng.integers(0, 4))]
    style = _UNRELIABLE if unreliable else _RELIABLE
    country = str(rng.choice(_COUNTRIES))
    lead = str(rng.choice(style["lead"])).format(Country=country, day=rng.choice(_DAYS))
    subject, thing, verb = rng.choice(topic["subjects"]), rng.choice(topic["things"]), \
        rng.choice(topic["verbs"])
    if unreliable:
        middle = str(rng.choice([
            f"{subject} secretly {verb} the {thing} to cover up a massive scandal.",
            f"{subject} {verb} the {thing} as part of a hidden plan to control {country}.",
            f"the {thing} was a total hoax staged by {subject}.",
            f"{subject} were paid millions to fake the {thing}.",
        ]))
    else:
        middle = str(rng.choice([
            f"{subject} {verb} the {thing} after a review of the available evidence.",
            f"{subject} {verb} the {thing}, the first such step since last year.",
            f"the {thing} was {verb} by {subject} following consultations in {country}.",
            f"{subject} {verb} the {thing} in line with earlier plans.",
        ]))
    return _fill_news(rng, f"{lead} {middle} {rng.choice(style['close'])}")


def _news_reliability(rng: np.random.Generator, n: int) -> tuple[list[str], np.ndarray]:
    labels = rng.integers(0, 2, size=n)
    return [_reliability_item(rng, bool(y)) for y in labels], labels


# ---------------------------------------------------------------- registry

#: kind -> (class names in label order, generator(rng, n) -> (texts, labels), label noise)
CORPORA: dict[str, tuple[list[str], Callable, float]] = {
    "movie_reviews": (["negative", "positive"], _movie_reviews, 0.03),
    "restaurant_reviews": (["negative", "positive"], _restaurant_reviews, 0.03),
    "news_topics": (list(_NEWS_CLASSES), _news_topics, 0.02),
    "news_reliability": (["reliable", "unreliable"], _news_reliability, 0.03),
}


def corpus_classes(kind: str) -> list[str]:
    """Class names of a stand-in corpus, in label order."""
    if kind not in CORPORA:
        raise ValueError(f"unknown stand-in corpus {kind!r}; known: {', '.join(CORPORA)}")
    return list(CORPORA[kind][0])


def generate_corpus(kind: str, n: int, seed: int,
                    label_noise: float | None = None) -> tuple[list[str], np.ndarray]:
    """Generate ``n`` labelled texts of a stand-in corpus.

    Args:
        kind: one of :data:`CORPORA` (``movie_reviews``, ``restaurant_reviews``,
            ``news_topics``, ``news_reliability``).
        n: number of texts, >= 0.
        seed: seed of ``np.random.default_rng``; the output is a pure function of
            ``(kind, n, seed, label_noise)``.
        label_noise: fraction of labels replaced by another class (default per corpus).

    Returns:
        ``(texts, labels)``: list of ``n`` strings and an int64 array of labels in
        ``0..len(corpus_classes(kind)) - 1``.
    """
    classes = corpus_classes(kind)
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    _, generator, default_noise = CORPORA[kind]
    noise = default_noise if label_noise is None else float(label_noise)
    if not 0.0 <= noise < 1.0:
        raise ValueError(f"label_noise must be in [0, 1), got {noise}")
    rng = np.random.default_rng(seed)
    texts, labels = generator(rng, n)
    labels = np.asarray(labels, dtype=np.int64)
    flip = rng.random(n) < noise
    shift = rng.integers(1, len(classes), size=n)
    labels = np.where(flip, (labels + shift) % len(classes), labels)
    return list(texts), labels



#: Common evaluative words outside the generator's lexicon that embedding neighbours swap
#: for their opposites ("weak" -> "strong", "best" -> "worst").
_EVALUATIVE = {
    1: ["good", "better", "best", "strong", "stronger", "fast", "faster", "love", "loved",
        "like", "liked", "enjoy", "enjoyed", "enjoyment", "happy", "beautiful", "favorite",
        "fun", "funny", "interesting", "success", "successful", "win", "recommend",
        "recommended", "pleased", "positive", "awesome", "fabulous", "glorious", "splendid"],
    -1: ["worse", "worst", "weaker", "slower", "hate", "hated", "dislike", "disliked",
         "sad", "ugly", "boredom", "bored", "failure", "fail", "failed", "lose", "angry",
         "negative", "horrific", "hideous", "stupid", "waste", "wasted", "unbearable"],
}


def _polarity_lexicon() -> dict[str, int]:
    lexicon: dict[str, int] = {}
    for sign, words in _EVALUATIVE.items():
        lexicon.update(dict.fromkeys(words, sign))
    for sign, words in ((1, _POS_GENERAL), (-1, _NEG_GENERAL)):
        lexicon.update(dict.fromkeys(words, sign))
    for lex in (_MOVIE, _RESTAURANT):
        for positive, negative in lex["kinds"].values():
            lexicon.update(dict.fromkeys(positive, 1))
            lexicon.update(dict.fromkeys(negative, -1))
    return lexicon


_POLARITY = _polarity_lexicon()


def word_polarity(word: str) -> int:
    """Sentiment polarity of a word: +1, -1, or 0 if in no lexicon.

    The lexicon is the reviews' adjectives plus common evaluative words ("good", "worst").

    Diagnostic only: a substitution that swaps the polarity ("wonderful" -> "terrible")
    changes the true label of a review rather than fooling a model.
    """
    return _POLARITY.get(word.lower(), 0)
