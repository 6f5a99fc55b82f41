"""Print the URI and keyring of the Debian archive this machine's apt is configured with.

Reads /etc/apt/sources.list and /etc/apt/sources.list.d/ (one-line and deb822 formats) and
picks the entry that serves the machine's own release (VERSION_CODENAME), so the set-up
never names a mirror itself.
"""
import glob
import re
import sys

DEFAULT_KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"


def codename():
    with open("/etc/os-release") as f:
        for line in f:
            if line.startswith("VERSION_CODENAME="):
                return line.split("=", 1)[1].strip().strip('"')
    sys.exit("setup: /etc/os-release has no VERSION_CODENAME; is this Debian?")


def deb822_entries(text):
    for stanza in re.split(r"\n\s*\n", text):
        fields = {}
        for line in stanza.splitlines():
            if ":" in line and not line.startswith(("#", " ")):
                key, value = line.split(":", 1)
                fields[key.strip().lower()] = value.strip()
        if "uris" in fields:
            yield (fields.get("types", "").split(), fields["uris"].split(),
                   fields.get("suites", "").split(), fields.get("signed-by", DEFAULT_KEYRING))


def one_line_entries(text):
    for line in text.splitlines():
        line = re.sub(r"\[[^]]*\]", "", line.split("#", 1)[0]).split()
        if len(line) >= 3 and line[0] in ("deb", "deb-src"):
            yield [line[0]], [line[1]], [line[2]], DEFAULT_KEYRING


def main():
    release = codename()
    entries = []
    for path in sorted(glob.glob("/etc/apt/sources.list.d/*.sources")):
        entries += deb822_entries(open(path).read())
    for path in ["/etc/apt/sources.list"] + sorted(glob.glob("/etc/apt/sources.list.d/*.list")):
        try:
            entries += one_line_entries(open(path).read())
        except FileNotFoundError:
            pass
    for types, uris, suites, keyring in entries:
        if "deb" in types and release in suites:
            print(uris[0], keyring)
            return
    sys.exit(f"setup: no apt source for Debian '{release}' found in /etc/apt; "
             "add one, or set CAFFE_ROOT to an existing Caffe build")


main()
