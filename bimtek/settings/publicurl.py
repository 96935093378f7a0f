"""The public URL: the address phones use for links and QR codes (BIMTEK_PUBLIC_URL).

`make run HOST=0.0.0.0` serves the venue's Wi-Fi; phones cannot open 127.0.0.1, so the URL is
derived from the laptop's LAN address and the port. Pure: no app, no request.

    python -m bimtek.settings.publicurl HOST PORT    # prints the derived URL
"""

import ipaddress
import socket
import sys
from urllib.parse import urlsplit

# Connecting a UDP socket sends no packet: the kernel only picks the route and so the local
# address that would be used. Private addresses only, so nothing is ever aimed outside the LAN.
_PROBE_ADDRESSES = ("10.255.255.255", "172.31.255.255", "192.168.255.255")
_ALL_INTERFACES = {"", "0.0.0.0", "::", "[::]", "*"}  # noqa: S104 (recognised, not bound)


def lan_address() -> str | None:
    """This machine's address on its local network, or None (no network up)."""
    for probe in _PROBE_ADDRESSES:
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
                sock.connect((probe, 9))
                address = sock.getsockname()[0]
        except OSError:
            continue
        parsed = ipaddress.ip_address(address)
        if not parsed.is_loopback and not parsed.is_unspecified:
            return address
    return None


def derive_public_url(host: str, port: int | str, lan: str | None = None) -> str:
    """http://<address>:<port> for a server bound to `host`.

    All interfaces (0.0.0.0): the LAN address (`lan`, else looked up), falling back to
    127.0.0.1 when there is no network. A named host or address: that one, with the port.
    """
    host = (host or "").strip()
    if host in _ALL_INTERFACES:
        host = lan or lan_address() or "127.0.0.1"
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"  # IPv6 literal
    return f"http://{host}:{int(port)}"


def is_loopback_host(host: str | None) -> bool:
    if not host:
        return False
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def is_loopback_url(url: str) -> bool:
    """True when the URL's host is this machine only (127.x, ::1, localhost)."""
    return is_loopback_host(urlsplit(url).hostname)


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m bimtek.settings.publicurl HOST PORT", file=sys.stderr)
        return 2
    print(derive_public_url(argv[0], argv[1]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
