#!/usr/bin/env python3
"""Writes the golden corpus of small awkward CSV files next to this script (run it after changing it)."""
import os

HERE = os.path.dirname(os.path.abspath(__file__))
FILES = {
    "excel_semicolon_cp1252.csv": ("Nom;Prénom;Code postal;Montant\r\nDurand;Zoé;01000;12\r\nMüller;Jürgen;75001;7\r\n", "cp1252"),
    "utf8_bom.csv": ("id,name\n1,Ana\n2,Bø\n", "utf-8-sig"),
    "utf16le_tab.csv": ("id\tcity\n1\tKøbenhavn\n2\tZürich\n", "utf-16"),
    "pipe_quoted.csv": ('sku|label|price\n"A-1"|"pipe | inside"|1.50\n"A-2"|"say ""hi"""|2\n', "utf-8"),
    "no_header_numbers.csv": ("1,2.5,true\n2,3.5,false\n3,,true\n", "utf-8"),
    "cr_only.csv": ("a,b\r1,x\r2,y\r", "utf-8"),
    "multiline_field.csv": ('id,comment\n1,"line one\nline two"\n2,plain\n', "utf-8"),
    "dates_ambiguous.csv": ("day,value\n01/02/2024,1\n03/04/2024,2\n", "utf-8"),
    "dates_us.csv": ("day,value\n12/31/2024,1\n01/15/2025,2\n", "utf-8"),
    "timestamps_iso.csv": ("at,n\n2024-01-31T10:00:00Z,1\n2024-02-01 09:30,2\n", "utf-8"),
    "zip_codes.csv": ("zip,count\n02139,1\n00501,2\n90210,3\n", "utf-8"),
    "messy_headers.csv": ("Order ID,amount (€),,Order id\n1,2,3,4\n", "utf-8"),
    "big_integers.csv": ("id,small\n12345678901234567890,1\n1,2\n", "utf-8"),
    "decimal_comma_semicolon.csv": ("produit;prix;quantité\r\npain;1,20;3\r\nlait;0,95;12\r\n", "cp1252"),
}
for name, (text, encoding) in FILES.items():
    with open(os.path.join(HERE, name), "wb") as f:
        f.write(text.encode(encoding))
