#!/usr/bin/env bash
# Prints the 20-rule scoring model the benchmarks hold in force: ten fit rules and ten
# engagement rules of the kinds marketers write (titles, channels, countries, responses;
# page views, pricing pages, downloads, clicks, webinars).
set -euo pipefail
echo "half_life_days = 30"
for i in $(seq 1 10); do
    echo "[[fit]]"; echo "name = \"fit $i\""
    case $((i % 5)) in
        0) echo "when = \"contact.title.contains('Director') || contact.title.contains('VP')\"";;
        1) echo "when = \"contact.channel == 'organic_search' && !contact.free_mail\"";;
        2) echo "when = \"contact.country in ['United States', 'Germany', 'United Kingdom']\"";;
        3) echo "when = \"responses.exists(r, r.action == 'demo_request')\"";;
        4) echo "when = \"contact.direction == 'inbound' && contact.age_days < $((i * 30))\"";;
    esac
    echo "points = $((i * 3))"; echo
done
for i in $(seq 1 10); do
    echo "[[engagement]]"; echo "name = \"engagement $i\""
    case $((i % 5)) in
        0) echo "when = \"activity.kind == 'page_view'\"";;
        1) echo "when = \"activity.kind == 'page_view' && activity.url.contains('pricing')\"";;
        2) echo "when = \"activity.kind == 'download' || activity.source == 'response'\"";;
        3) echo "when = \"activity.kind == 'email_click'\"";;
        4) echo "when = \"activity.kind == 'webinar_attended' && activity.days_ago < 90\"";;
    esac
    echo "points = $i"; echo "cap = $((i * 10))"; echo
done
