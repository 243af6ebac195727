"""Browser and operating system, with versions, from a User-Agent header (ua-parser)."""

from functools import lru_cache

import ua_parser


def _version(part) -> str:
    return ".".join(piece for piece in (part.major, part.minor, part.patch) if piece)


@lru_cache(maxsize=2048)
def parse_user_agent(user_agent: str) -> dict[str, str]:
    result = ua_parser.parse(user_agent[:1000])
    browser, system = result.user_agent, result.os
    return {
        "browser": browser.family if browser else "",
        "browser_version": _version(browser) if browser else "",
        "os": system.family if system else "",
        "os_version": _version(system) if system else "",
    }
