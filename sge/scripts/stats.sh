# shellcheck shell=bash
# On the master: its clock and zone, then qstat's and qhost's XML, between markers. They run
# side by side: each spends ~80 ms starting up and talking to the qmaster. A failing command
# prints its error in place of the XML (the parser names it).
stats=$(mktemp -d)
date '+%s %z'
qstat -u '*' -xml -r >"$stats/qstat" 2>&1 &
qhost -q -xml >"$stats/qhost" 2>&1 || true
wait || true
echo '@@sclust-qstat@@'
cat "$stats/qstat"
echo '@@sclust-qhost@@'
cat "$stats/qhost"
rm -rf "$stats"
