"""Fill missing msgstr entries of a .po catalogue from a msgid<TAB>translation file.

Used when a batch of new strings arrives:
`python scripts/fill_po.py zh.tsv backend/translations/zh/LC_MESSAGES/messages.po`.
"""

import sys

from babel.messages.pofile import read_po, write_po


def main(tsv_path: str, po_path: str) -> None:
    with open(tsv_path, encoding="utf-8") as fh:
        pairs = dict(line.rstrip("\n").split("\t", 1) for line in fh if "\t" in line)
    with open(po_path, "rb") as fh:
        catalog = read_po(fh)
    filled = 0
    for message in catalog:
        if message.id and not message.string and message.id in pairs:
            message.string = pairs[message.id]
            filled += 1
    with open(po_path, "wb") as fh:
        write_po(fh, catalog, width=100)
    missing = [m.id for m in catalog if m.id and not m.string]
    print(f"filled {filled}; still missing {len(missing)}: {missing}")


if __name__ == "__main__":
    main(*sys.argv[1:3])
