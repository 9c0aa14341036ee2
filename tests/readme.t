#!/bin/sh
# readme.t - the README's five-minute tour, run as written.  Every ```sh
# block between the "tour: begin" and "tour: end" marks of README.md runs,
# in order, in one bash (variables and the background scrimd carry from block
# to block), from a temp directory laid out like the checkout: bin/ is the
# build under test ($SCRIM_BIN), tests/fixtures/ the fixtures.  Each block
# must succeed, and print what the ```text block after it shows ("..."
# stands for any text).  Then what the tour made is checked: the match, the
# review page, the preview image, scrimd stopped.  So the README cannot
# drift from the programs.
set -u
. "$(dirname "$0")/tap.sh"
TOP=$(pwd)
temp_dir T
W=$T/work   # the tour's checkout
R=$T/run    # each block's script, output, expected output
# scrimd, if the tour left it running: the pids its shell recorded
at_exit '[ -s "$R/jobs" ] && kill $(cat "$R/jobs") 2>/dev/null'
need_tools bash perl curl vipsheader timeout
[ -x "$BIN/scrim" ] && [ -x "$BIN/scrimd" ] || skip_all "no $BIN/scrim and scrimd"

mkdir -p "$W/tests" "$R"
ln -s "$BIN" "$W/bin"
ln -s "$TOP/tests/fixtures" "$W/tests/fixtures"

# The tour's blocks: $R/N.sh, and $R/N.want for a block followed by a text
# block.  Anything else fenced inside the tour is an error.
perl -e '
    my ($readme, $dir) = @ARGV;
    open my $f, "<", $readme or die "$readme: $!\n";
    my ($in, $fence, $n, $last, $body) = (0, "", 0, "", "");
    while (<$f>) {
        if (!$in) { $in = 1 if /<!-- tour: begin/; next }
        last if /<!-- tour: end/;
        if ($fence eq "") {
            if (/^```(\w*)\s*$/) {
                $fence = $1;
                die "line $.: a tour block must be sh or text, not \"$fence\"\n"
                    unless $fence eq "sh" || $fence eq "text";
                die "line $.: a text block must follow an sh block\n"
                    if $fence eq "text" && $last ne "sh";
                $body = "";
            } elsif (/\S/) {
                $last = "prose";
            }
            next;
        }
        if (/^```\s*$/) {
            $n++ if $fence eq "sh";
            my $name = $fence eq "sh" ? "$dir/$n.sh" : "$dir/$n.want";
            open my $o, ">", $name or die "$name: $!\n";
            print $o $body;
            close $o;
            $last = $fence;
            $fence = "";
            next;
        }
        $body .= $_;
    }
    die "no \"<!-- tour: begin\" mark\n" unless $in;
    die "unterminated block\n" if $fence ne "";
    print "$n\n";
' "$TOP/README.md" "$R" >"$R/count" 2>"$R/extract.err"
ok $? "the tour's blocks are read from README.md"
sed 's/^/#   /' "$R/extract.err"
blocks=$(cat "$R/count" 2>/dev/null)
blocks=${blocks:-0}

# The tour must still show each step of issue 19's tour.
all=$(cat "$R"/*.sh 2>/dev/null)
missing=
for step in 'bin/scrim hash ' 'bin/scrim import ' 'bin/scrimd ' '--unix-socket' \
            '/v1/match' '/review' 'preview.jpg'; do
    case $all in *"$step"*) ;; *) missing="$missing '$step'" ;; esac
done
[ -z "$missing" ]
ok $? "the tour hashes, imports, starts scrimd, matches over the socket, shows the review page and a preview"
[ -n "$missing" ] && echo "#   missing:$missing"

# One bash runs the blocks in order; a failing command stops it (errexit,
# pipefail).  After each block it records the background jobs, so that
# cleanup can stop a scrimd the tour did not stop itself.
{
    echo 'set -eo pipefail'
    echo "trap 'exit 124' TERM INT"
    i=1
    while [ $i -le "$blocks" ]; do
        echo "{"
        cat "$R/$i.sh"
        echo "} >'$R/$i.out' 2>'$R/$i.err'"
        echo "jobs -p >'$R/jobs'"
        echo ": >'$R/$i.ok'"
        i=$((i + 1))
    done
} >"$R/tour.bash"
(cd "$W" && timeout -k 5 40 bash "$R/tour.bash" </dev/null >"$R/tour.out" 2>&1)

# output GOT WANT: GOT matches WANT, "..." standing for any text (trailing
# white space ignored)
output() {
    perl -e '
        my ($got, $want) = map { open my $f, "<", $_ or die "$_: $!\n"; local $/;
                                 my $s = <$f>; $s =~ s/\s+\z//; $s } @ARGV;
        my $re = join ".*?", map { quotemeta } split /\.\.\./, $want, -1;
        exit($got =~ /\A$re\z/s ? 0 : 1);' "$1" "$2"
}
i=1
while [ $i -le "$blocks" ]; do
    first=$(grep -m1 . "$R/$i.sh")
    [ -e "$R/$i.ok" ]
    if ! ok $? "block $i runs: $first"; then
        sed 's/^/#   stderr: /' "$R/$i.err" 2>/dev/null | head -n 20
        sed 's/^/#   /' "$R/tour.out" | head -n 5
    fi
    if [ -e "$R/$i.want" ]; then
        output "$R/$i.out" "$R/$i.want" 2>/dev/null
        if ! ok $? "block $i prints what the README shows"; then
            sed 's/^/#   want: /' "$R/$i.want"
            sed "s/^/#   got:  /" "$R/$i.out" 2>/dev/null
        fi
    fi
    i=$((i + 1))
done

# What the tour made.
grep -q '"matched":true' "$W/demo/match.json" 2>/dev/null
ok $? "the match answer says \"matched\":true"
grep -q '"review":{"id":"[0-9a-f]*","preview":"/v1/review/[0-9a-f]*/preview.jpg"' \
    "$W/demo/match.json" 2>/dev/null
ok $? "the match was stored for review, with a preview"
cat "$R"/*.out 2>/dev/null | grep -q '<title>scrim review</title>'
ok $? "the review page answered"
[ "$(head -c 3 "$W/demo/preview.jpg" 2>/dev/null | od -An -tx1 | tr -d ' \n')" = ffd8ff ] &&
    vipsheader -f bands "$W/demo/preview.jpg" 2>/dev/null | grep -qx 1
ok $? "the preview served is a one-band (grey) JPEG"
[ -e "$R/jobs" ] && [ ! -s "$R/jobs" ]
ok $? "the tour stops scrimd"
grep -q '"msg":"stopped"' "$W/demo/scrimd.log" 2>/dev/null
ok $? "scrimd logged that it stopped"
! cat "$R"/*.err 2>/dev/null |
    grep -q 'ERROR: \(AddressSanitizer\|LeakSanitizer\)\|runtime error'
ok $? "no sanitizer reports from the tour's programs"

done_testing
