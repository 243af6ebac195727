"""The search benchmark's data: realistic, skewed, reproducible, and loaded with COPY.

Agents, groups and tags are few and made with the ORM. Visitors, conversations, their tags and
messages are written as PostgreSQL COPY text in chunks. The product's own indexes (from its migrations)
and the foreign keys are dropped before the load and created again after it, exactly as they were,
because building an index once is much faster than maintaining it row by row: that is how a real bulk
load is done, and the indexes that serve the queries are the product's.

Distributions (seeded, so every run loads the same data):
- created_at evenly over two years (ids rising with time, as in a real table), resolved minutes to
  days later; the last days hold most open conversations.
- 60 agents with Zipf-like workload, each in a home group of 12; about 4% unassigned.
- ratings on about a third of resolved conversations, mostly 5 and 4.
- website URLs from a few domains and ~20,000 pages with Zipf popularity; Messenger and email have none.
- IP addresses from 3,000 /24 networks with Zipf popularity; email conversations have none.
- 0 to 3 of 40 tags with Zipf popularity.
- about 5 messages per conversation (exponential), 2 to 40 words each from a 20,000-word vocabulary with
  Zipf frequencies, so a common word is in a few percent of messages and a rare one in a few hundred.
"""

import bisect
import itertools
import random
import time
import uuid

SEED = 20261124
YEAR = 365 * 24 * 3600

TAG_NAMES = [
    "billing", "refund", "shipping", "bug", "feature-request", "vip", "complaint", "returns", "account",
    "password", "invoice", "delivery-delay", "damaged", "discount", "subscription", "cancel", "payment-failed",
    "wholesale", "partnership", "feedback", "urgent", "spam", "sizing", "warranty", "exchange", "gift-card",
    "loyalty", "mobile-app", "checkout", "login", "newsletter", "gdpr", "press", "jobs", "api", "integration",
    "out-of-stock", "pre-order", "b2b", "translation",
]  # fmt: skip

COMMON_WORDS = [
    "the", "to", "i", "and", "a", "you", "my", "is", "it", "for", "of", "in", "order", "on", "this", "can",
    "we", "have", "your", "be", "with", "not", "me", "please", "that", "thanks", "hello", "hi", "what", "when",
    "will", "do", "are", "there", "how", "but", "get", "help", "just", "if", "so", "an", "was", "need", "know",
    "at", "package", "refund", "delivery", "shipping", "payment", "card", "account", "password", "email", "address",
    "product", "size", "return", "item", "received", "yet", "still", "days", "week", "today", "tomorrow", "tracking",
    "number", "invoice", "price", "discount", "code", "coupon", "cancel", "change", "update", "problem", "issue",
    "error", "page", "website", "app", "login", "sign", "working", "sorry", "check", "look", "thank", "great",
    "sure", "could", "would", "should", "time", "back", "money", "store", "stock", "available", "color", "ordered",
    "wrong", "damaged", "broken", "missing", "late", "exchange", "warranty",
]  # fmt: skip
# Rare but real words, placed far down the frequency list (see vocabulary()).
RARE_WORDS = ["chargeback", "ombudsman", "defective", "reimbursement", "carbonite", "subpoena"]
SYLLABLES = "ka lo mi ne ru ta po si be da fe gu hi jo ku la ma no pe qui ra se ti vo wa xe yo zu".split()  # noqa: SIM905


def zipf_cumulative(count: int, exponent: float = 1.0) -> list[float]:
    return list(itertools.accumulate(1 / (rank + 1) ** exponent for rank in range(count)))


def vocabulary(size: int = 20_000) -> list[str]:
    rng = random.Random(SEED + 1)
    words = list(COMMON_WORDS)
    seen = set(words) | set(RARE_WORDS)
    while len(words) < size:
        word = "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4)))
        if word not in seen:
            seen.add(word)
            words.append(word)
    # Rare words sit at ranks ~12,000-17,000: a few hundred messages in five million contain each.
    for n, word in enumerate(RARE_WORDS):
        words[12_000 + n * 1_000] = word
    return words


def iso(seconds: float) -> str:
    t = time.gmtime(seconds)
    return f"{t.tm_year:04d}-{t.tm_mon:02d}-{t.tm_mday:02d} {t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d}+00"


N = "\\N"  # NULL in COPY text format


class Dataset:
    """Generates the rows; remembers what the queries need (ids, popular values)."""

    def __init__(self, conversations: int, agent_ids: list[int], group_of_agent: dict[int, int], tag_ids: list[int]):
        self.rng = random.Random(SEED)
        self.conversations = conversations
        self.visitors = max(1, int(conversations * 0.45))
        self.agent_ids = agent_ids
        self.group_of_agent = group_of_agent
        self.tag_ids = tag_ids
        self.now = time.time()
        self.start = self.now - 2 * YEAR
        self.agent_cw = zipf_cumulative(len(agent_ids), 0.8)
        self.tag_cw = zipf_cumulative(len(tag_ids), 1.0)
        rng = random.Random(SEED + 2)
        self.networks = [f"{rng.randint(11, 223)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}" for _ in range(3_000)]
        self.network_cw = zipf_cumulative(len(self.networks), 1.0)
        self.pages = [self._page(rng, n) for n in range(20_000)]
        self.page_cw = zipf_cumulative(len(self.pages), 0.9)
        self.words = vocabulary()
        self.word_cw = zipf_cumulative(len(self.words), 1.0)
        self.message_count = 0
        self.tag_link_count = 0

    @staticmethod
    def _page(rng: random.Random, n: int) -> str:
        domain = rng.choices(
            ["shop.example.com", "www.example.com", "help.example.com", "example.co.uk"], [6, 3, 2, 1]
        )[0]
        kind = n % 10
        if n < 6:
            path = ["/", "/cart", "/checkout", "/account/orders", "/contact", "/checkout/payment"][n]
        elif kind < 6:
            path = f"/products/{'-'.join(rng.choices(SYLLABLES, k=2))}-{100000 + n}"
        elif kind < 8:
            path = (
                f"/category/{rng.choice(['shoes', 'shirts', 'bags', 'outdoor', 'kitchen', 'garden'])}?page={n % 7 + 1}"
            )
        else:
            path = f"/help/articles/{n}-{'-'.join(rng.choices(SYLLABLES, k=3))}"
        return f"https://{domain}{path}"

    def _pick(self, items, cumulative):
        return items[bisect.bisect(cumulative, self.rng.random() * cumulative[-1])]

    def visitor_rows(self):
        rng = self.rng
        for pk in range(1, self.visitors + 1):
            seen = iso(self.start + (pk / self.visitors) * 2 * YEAR)
            name = f"Visitor {pk}" if rng.random() < 0.6 else f"Customer {pk}"
            email = f"customer{pk}@example.net" if rng.random() < 0.4 else ""
            yield (
                f"{pk}\t{uuid.UUID(int=rng.getrandbits(128), version=4)}\t{N}\t{name}\t{email}\t\t{N}\t\t\t\t\t\t\t\t\t"
                f"{{}}\t{{}}\t{seen}\t{seen}\n"
            )

    VISITOR_COLUMNS = (
        "id, key, external_id, name, email, phone, ip_address, country, city, user_agent, browser, "
        "browser_version, os, os_version, first_referrer, variables, customer_data, created_at, last_seen_at"
    )
    CONVERSATION_COLUMNS = (
        "id, visitor_id, channel, status, assignee_id, group_id, rating, rating_comment, rated_at, page_url, "
        "ip_address, created_at, first_response_at, last_message_at, resolved_at, tag_ids"
    )
    TAG_LINK_COLUMNS = "conversation_id, tag_id"
    MESSAGE_COLUMNS = (
        "conversation_id, author, agent_id, body, channel, external_id, client_id, delivery_status, "
        "delivery_error, created_at"
    )

    def conversation_rows(self):
        """Yields (conversation line, tag link lines, message lines) per conversation."""
        rng = self.rng
        step = 2 * YEAR / self.conversations
        recent = self.now - 3 * 24 * 3600
        words, word_cw = self.words, self.word_cw
        for pk in range(1, self.conversations + 1):
            created = self.start + (pk - 1) * step + rng.random() * step
            roll = rng.random()
            channel = "web" if roll < 0.8 else ("email" if roll < 0.92 else "messenger")
            is_open = rng.random() < (0.6 if created > recent else 0.01)
            unassigned = rng.random() < (0.3 if is_open else 0.04)
            assignee = None if unassigned else self._pick(self.agent_ids, self.agent_cw)
            group = self.group_of_agent[assignee] if assignee and rng.random() < 0.8 else None
            if group is None and rng.random() < 0.3:
                group = rng.choice(list(self.group_of_agent.values()))
            resolved = None if is_open else created + rng.expovariate(1 / (3 * 3600)) + 60
            rating, rating_comment, rated = N, "", N
            if resolved and rng.random() < 1 / 3:
                rating = rng.choices("54321", [45, 25, 12, 8, 10])[0]
                rating_comment = "" if rng.random() < 0.8 else "Quick and helpful." if rating > "3" else "Too slow."
                rated = iso(resolved + 60)
            if channel == "web":
                page = self._pick(self.pages, self.page_cw)
                if rng.random() < 0.15:
                    page += f"?utm_source={rng.choice(['newsletter', 'google', 'facebook'])}"
            else:
                page = ""
            ip = N
            if channel != "email":
                ip = f"{self._pick(self.networks, self.network_cw)}.{rng.randint(1, 254)}"
            first_response = iso(created + rng.randint(10, 900)) if assignee else N
            count = 1 + int(rng.expovariate(1 / 4.5))
            last = created + 90 * (count - 1)
            conversation = (
                f"{pk}\t{rng.randint(1, self.visitors)}\t{channel}\t{'open' if is_open else 'resolved'}\t"
                f"{assignee or N}\t{group or N}\t{rating}\t{rating_comment}\t{rated}\t{page}\t{ip}\t{iso(created)}\t"
                f"{first_response}\t{iso(max(last, resolved or 0))}\t{iso(resolved) if resolved else N}\n"
            )
            roll = rng.random()
            tag_count = 0 if roll < 0.45 else 1 if roll < 0.8 else 2 if roll < 0.95 else 3
            tags = {self._pick(self.tag_ids, self.tag_cw) for _ in range(tag_count)}
            links = [f"{pk}\t{tag}\n" for tag in tags]
            # The array the link triggers keep (conversations' migration 0007), written with the row:
            # the load copies the links with those triggers off.
            conversation = f"{conversation[:-1]}\t{{{','.join(map(str, sorted(tags)))}}}\n"
            self.tag_link_count += len(links)
            lengths = [rng.randint(2, 12) if rng.random() < 0.7 else rng.randint(13, 40) for _ in range(count)]
            drawn = rng.choices(words, cum_weights=word_cw, k=sum(lengths))
            messages = []
            at = 0
            for n, length in enumerate(lengths):
                body = " ".join(drawn[at : at + length])
                at += length
                if n % 2 == 0 or not assignee:
                    author, agent = "visitor", N
                else:
                    author, agent = "agent", assignee
                messages.append(f"{pk}\t{author}\t{agent}\t{body}\t{channel}\t{N}\t{N}\t\t\t{iso(created + 90 * n)}\n")
            self.message_count += count
            yield conversation, links, messages
