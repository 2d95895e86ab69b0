"""Which hosts a media download may connect to (SSRF): the trusted origin (Label Studio's),
and any other only when none of its addresses is internal (loopback, private, link-local,
multicast, reserved, unspecified, shared, cloud metadata; IPv4 embedded in IPv6 included),
unless an allow-list names it. Origins and the cache key of a URL are here too."""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from ls_backend.media_errors import DownloadError, HostNotAllowed

DEFAULT_PORTS = {"http": 80, "https": 443}
ALLOWED_HOSTS_SETTING = "LABELME_SAM2_MEDIA_ALLOWED_HOSTS"
MAX_ADDRESSES = 3  # of a host's addresses, tried in turn while they refuse or time out
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a)
    for a in ("169.254.169.254", "169.254.170.2", "fd00:ec2::254", "100.100.100.200")
)
NAT64 = ipaddress.ip_network("64:ff9b::/96")
IPV4_COMPATIBLE = ipaddress.ip_network("::/96")


@dataclass(frozen=True)
class Origin:
    scheme: str
    host: str  # lower case, as the URL spells it (requests IDNA-encodes it), IPv6 unbracketed
    port: int

    @classmethod
    def of(cls, url: str) -> Origin:
        """ValueError when `url` is not an absolute http(s) URL with a host."""
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in DEFAULT_PORTS or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {url!r}")
        return cls(scheme, parts.hostname.lower().rstrip("."), parts.port or DEFAULT_PORTS[scheme])

    @classmethod
    def parse(cls, url: str) -> Origin | None:
        """Origin.of, or None for anything that is no http(s) URL (a bad port included)."""
        try:
            return cls.of(url)
        except ValueError:
            return None

    @property
    def netloc(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == DEFAULT_PORTS[self.scheme] else f"{host}:{self.port}"

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"


def canonical(url: str) -> str:
    """scheme://host:port/path?query, the port always written: the cache key of a URL."""
    parts = urlsplit(url)
    return f"{Origin.of(url)}{parts.path or '/'}?{parts.query}"


class AddressPolicy:
    """Which hosts a download may connect to, besides the trusted origin. `allowed`: host
    names (exact, any case) and IP addresses or networks (CIDR) let through the address check;
    ValueError for an entry that is neither."""

    def __init__(self, allowed: tuple[str, ...] = ()) -> None:
        self.names: set[str] = set()
        self.networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
        for entry in allowed:
            text = entry.strip().lower()
            if not text:
                continue
            try:
                self.networks.append(ipaddress.ip_network(text.strip("[]"), strict=False))
                continue
            except ValueError:
                pass
            name = text.rstrip(".")
            if not name or not all(c.isalnum() or c in "-._" for c in name):
                raise ValueError(f"{entry!r} is neither a host name nor an IP address or network")
            self.names.add(name)

    def addresses(self, origin: Origin) -> list[str]:
        """The host's addresses to connect to, in the resolver's order; HostNotAllowed when
        any of them is internal and neither the name nor the address is allowed."""
        try:
            infos = socket.getaddrinfo(origin.host, origin.port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError) as error:
            raise DownloadError(
                "its host could not be reached", f"cannot resolve {origin.host}: {error}"
            ) from error
        found: list[str] = []
        for info in infos:
            address = str(info[4][0])
            if address not in found:
                found.append(address)
        if not found:
            raise DownloadError("its host could not be reached", f"{origin.host}: no address")
        if origin.host in self.names:
            return found
        for address in found:
            ip = ipaddress.ip_address(address.split("%", 1)[0])
            if is_internal(ip) and not self._allowed(ip):
                raise HostNotAllowed(
                    "its host is not allowed (a loopback, private, link-local or cloud-metadata "
                    f"address; {ALLOWED_HOSTS_SETTING} lists exceptions)",
                    f"{origin.host} resolves to {address}, which is internal and not allowed",
                )
        return found

    def _allowed(self, ip: IPAddress) -> bool:
        candidates = [ip, *_embedded_ipv4(ip)] if isinstance(ip, ipaddress.IPv6Address) else [ip]
        return any(c in network for c in candidates for network in self.networks)


def is_internal(ip: IPAddress) -> bool:
    """Loopback, private, link-local, multicast, reserved, unspecified, shared or metadata:
    anything but a public unicast address, also when wrapped in IPv6 (mapped, 6to4, ...)."""
    if ip in METADATA_ADDRESSES:
        return True
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(ip)
        if any(is_internal(v4) for v4 in embedded):
            return True
        if ip.ipv4_mapped is not None:
            return False  # a public IPv4 address, as IPv6
    return (
        not ip.is_global
        or ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
    )


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    found = [v4 for v4 in (ip.ipv4_mapped, ip.sixtofour) if v4 is not None]
    if ip.teredo is not None:
        found.extend(ip.teredo)
    if ip in NAT64 or (ip in IPV4_COMPATIBLE and int(ip) > 1):
        found.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    return found
