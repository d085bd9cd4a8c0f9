# Deterministic CSV of B2B contacts for bench/import.sh.
#
#   awk -v rows=1000000 -f bench/gen-contacts.awk > contacts.csv
#
# Columns: Email, First Name, Last Name, Company, Job Title, Country, Phone,
# Lead Source, Create Date, Lifecycle Stage Date.
# - ~100,000 company domains (acme123.example): 80 % of rows spread over all of them,
#   20 % over the first 1,000 (larger companies, ~200 people each);
# - person emails first.last<row>@domain; ~3 % at gmail.com instead;
# - ~1 % of rows are the same person again (same first and last name, same company)
#   under a variant address: first.last<j>+tag@, <initial><last><j>@, last.first<j>@
#   (gmail: the dots dropped, or a +tag), where j is an earlier row;
# - dates 2024-01-01 .. 2026-12-31 as YYYY-MM-DD HH:MM:SS; ~30 % of rows have a
#   Lifecycle Stage Date (0-60 days after creation);
# - some company names need CSV quoting ("Acme 12, Inc.").
# Only POSIX awk and its own generator (Park-Miller), so gawk and mawk give the same file.

function rnd(n) { # uniform integer in [0, n)
    seed = (seed * 16807) % 2147483647
    return int(seed / 2147483647 * n)
}
function pick(list, n) { return list[rnd(n) + 1] }
function stamp(t,   d, s) { # seconds since 2024-01-01 00:00:00
    d = int(t / 86400); s = t - d * 86400
    return sprintf("%s %02d:%02d:%02d", day[d], int(s / 3600), int(s % 3600 / 60), s % 60)
}
function csv(s) { return (index(s, ",") || index(s, "\"")) ? "\"" s "\"" : s }
function letters(s) { s = tolower(s); gsub(/[^a-z]/, "", s); return s }

BEGIN {
    if (rows == "") rows = 1000000
    seed = 20240101
    ndays = 0
    for (y = 2024; y <= 2026; y++)
        for (m = 1; m <= 12; m++) {
            len = (m == 2) ? ((y % 4 == 0) ? 29 : 28) : ((m == 4 || m == 6 || m == 9 || m == 11) ? 30 : 31)
            for (dd = 1; dd <= len; dd++) day[ndays++] = sprintf("%04d-%02d-%02d", y, m, dd)
        }
    span = ndays * 86400

    nf = split("James Mary John Patricia Robert Jennifer Michael Linda David Elizabeth William Barbara " \
        "Richard Susan Joseph Jessica Thomas Sarah Charles Karen Daniel Lisa Matthew Nancy Anthony Sandra " \
        "Mark Ashley Paul Emily Steven Michelle Andrew Laura Kevin Anna Brian Julia Lukas Sophie Jonas " \
        "Marie Pierre Camille Hiroshi Yuki Priya Arjun Carlos Lucia Lars Ingrid", first, " ")
    nl = split("Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez Lopez " \
        "Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Thompson White Harris Clark Lewis Walker " \
        "Hall Allen Young King Wright Scott Green Baker Adams Nelson Hill Campbell Mitchell Roberts " \
        "Muller Schmidt Schneider Dubois Moreau Tanaka Suzuki Patel Sharma Silva Jensen O'Neil", last, " ")
    nw = split("acme globex initech umbrella hooli vandelay soylent tyrell cyberdyne wonka oceanic " \
        "aperture nakatomi stark wayne gringotts massive dunder monarch zenith northwind contoso fabrikam " \
        "tailspin litware proseware adatum fourth blue summit", word, " ")
    ns = split("Inc.|, Inc.|GmbH|Ltd|LLC|, LLC|SA|BV|AB|Group|Systems|Technologies", suffix, "|")
    nt = split("CEO|CTO|CFO|VP Sales|VP Marketing|Head of Operations|Marketing Manager|Sales Manager|" \
        "IT Director|Procurement Manager|Software Engineer|Data Analyst|Product Manager|" \
        "Account Executive|Office Manager|Consultant|HR Manager|Operations Analyst", title, "|")
    nc = split("United States|United States|United States|United States|United Kingdom|United Kingdom|" \
        "Germany|Germany|France|Canada|Netherlands|Australia|Spain|India|Brazil|Japan|Sweden|Italy|" \
        "Switzerland|Ireland", country, "|")
    nsrc = split("Organic Search|Organic Search|Paid Search|Paid Search|Webinar|Trade Show|Referral|" \
        "Purchased List|Website|Website|LinkedIn|Email", source, "|")
    ntag = split("news|crm|work|leads|promo", tag, "|")

    RING = 8192; kept = 0
    print "Email,First Name,Last Name,Company,Job Title,Country,Phone,Lead Source,Create Date,Lifecycle Stage Date"
    for (i = 1; i <= rows; i++) {
        dup = 0
        if (kept > 100 && rnd(100) == 0) {
            slot = rnd(kept < RING ? kept : RING)
            if (rfirst[slot] != "") dup = 1
        }
        if (dup) {
            fn = rfirst[slot]; ln = rlast[slot]; j = rnum[slot]; domain = rdomain[slot]; company = rcompany[slot]
            rfirst[slot] = "" # each earlier person is duplicated at most once
            f = letters(fn); l = letters(ln); v = rnd(3)
            if (domain == "gmail.com")
                local = (v == 0) ? f "." l j "+" pick(tag, ntag) : f l j
            else if (v == 0)
                local = f "." l j "+" pick(tag, ntag)
            else if (v == 1)
                local = substr(f, 1, 1) l j
            else
                local = l "." f j
        } else {
            fn = pick(first, nf); ln = pick(last, nl); j = i
            d = (rnd(5) == 0) ? rnd(1000) : rnd(100000)
            w = word[d % nw + 1]
            company = toupper(substr(w, 1, 1)) substr(w, 2) " " d
            sfx = suffix[d % ns + 1]
            company = company (substr(sfx, 1, 1) == "," ? sfx : " " sfx)
            domain = (rnd(100) < 3) ? "gmail.com" : w d ".example"
            local = letters(fn) "." letters(ln) i
            slot = kept % RING; kept++
            rfirst[slot] = fn; rlast[slot] = ln; rnum[slot] = i; rdomain[slot] = domain; rcompany[slot] = company
        }
        created = rnd(span - 61 * 86400)
        staged = (rnd(10) < 3) ? stamp(created + rnd(60 * 86400)) : ""
        phone = sprintf("+1 555 %03d %04d", rnd(1000), rnd(10000))
        print local "@" domain "," fn "," ln "," csv(company) "," pick(title, nt) "," pick(country, nc) "," \
            phone "," pick(source, nsrc) "," stamp(created) "," staged
    }
}
