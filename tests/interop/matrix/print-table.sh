#!/usr/bin/env bash
# Prints the interop matrix as a table: one row per case, one column per foreign peer, from the
# "CASE<TAB>PEER<TAB>PASS|FAIL" lines the tests append to $KEEL_INTEROP_MATRIX_REPORT.
# Usage: print-table.sh REPORT
set -euo pipefail
report="${1:?usage: print-table.sh REPORT}"
[ -s "$report" ] || { echo "no matrix results in $report"; exit 1; }
awk -F'\t' '
  !($1 in seen_case) { seen_case[$1] = 1; cases[++nc] = $1 }
  BEGIN { n = split("go rust-0.53 rust-0.56", order, " "); for (i = 1; i <= n; i++) { cols[++ncol] = order[i]; seen_col[order[i]] = 1 } }
  !($2 in seen_col)  { seen_col[$2] = 1; cols[++ncol] = $2 }
  { cell[$1, $2] = $3; if ($3 == "PASS") pass++; else fail++ }
  END {
    w = 4; for (i = 1; i <= nc; i++) if (length(cases[i]) > w) w = length(cases[i])
    printf "| %-*s |", w, "case"; for (j = 1; j <= ncol; j++) printf " %s |", cols[j]; printf "\n"
    printf "|%s|", sprintf("%*s", w + 2, "") ; for (j = 1; j <= ncol; j++) printf "%s|", sprintf("%*s", length(cols[j]) + 2, "")
    printf "\n"
    for (i = 1; i <= nc; i++) {
      printf "| %-*s |", w, cases[i]
      for (j = 1; j <= ncol; j++) {
        v = ((cases[i], cols[j]) in cell) ? cell[cases[i], cols[j]] : "-"
        printf " %-*s |", length(cols[j]), v
      }
      printf "\n"
    }
    printf "%d passed, %d failed\n", pass, fail
  }' "$report" | sed -e '2s/ /-/g'
