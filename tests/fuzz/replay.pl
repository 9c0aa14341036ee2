#!/usr/bin/perl
# replay.pl SOCKET PORT FILE...: each FILE, an input of fuzz_transport (a
# flags byte, then the bytes to send), sent to a running scrimd as the
# harness sends it (bit 0: over TCP 127.0.0.1:PORT, else SOCKET; bit 2: the
# sending side then closed), its answers read until scrimd closes or is
# quiet for 0.5 s, and checked as the harness checks them.  Prints
# "FILE ok" or "FILE PROBLEM" per file.
use strict;
use warnings;
use IO::Socket::UNIX;
use IO::Socket::INET;
use IO::Select;
use JSON::PP;
use Time::HiRes qw(time);

my ($sock, $port, @files) = @ARGV;
for my $f (@files) {
    open my $in, '<:raw', $f or die "$f: $!\n";
    local $/;
    my $data = <$in>;
    my $flags = ord(substr($data, 0, 1, ''));
    my $s = ($flags & 1) ? IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port")
                         : IO::Socket::UNIX->new(Peer => $sock);
    die "connect: $!\n" unless $s;
    binmode $s;
    $SIG{PIPE} = 'IGNORE';
    syswrite($s, $data);
    shutdown($s, 1) if $flags & 4;
    my ($got, $sel, $end) = ('', IO::Select->new($s), time + 20);
    while (time < $end) {
        last unless $sel->can_read(($flags & 4) ? 20 : 0.5);
        my $n = sysread($s, my $b, 65536);
        last unless $n;
        $got .= $b;
    }
    close $s;
    print "$f ", check($got, $flags & 4), "\n";
}

sub check {
    my ($t, $half_closed) = @_;
    while (length $t) {
        # evhttp's own refusals repeat the request's version, and close
        return "not an HTTP status line: " . substr($t, 0, 40)
            unless $t =~ /\AHTTP\/(\S{1,30}) (\d\d\d) /;
        my ($version, $status) = ($1, $2);
        my $odd = $version !~ /\A1\.[01]\z/;
        my $he = index($t, "\r\n\r\n");
        return "an answer's head cut short" if $he < 0;
        my $h = substr($t, 0, $he + 4);
        my $rest = substr($t, $he + 4);
        my ($cl) = $h =~ /^Content-Length:\s*(\d+)\r$/mi;
        my $json = $h =~ /^Content-Type:\s*application\/json/mi;
        my $len;
        if ($status < 200) { $len = 0 }
        elsif (defined $cl) {
            $len = $cl;
            # an answer to HEAD: the next answer (or the end) right after its head
            if ($cl && (!length $rest || ($rest =~ /\AHTTP\/1\./ &&
                        substr($rest, $cl, 7) ne 'HTTP/1.'))) { $len = 0; $json = 0 }
            # after a half-close evhttp may cut the last answer (fuzz_transport.c)
            return "ok" if $len > length $rest && $half_closed;
            return "an answer's body cut short" if $len > length $rest;
        } else { $len = length $rest }
        my $body = substr($rest, 0, $len);
        return "an odd version on an answer that does not close"
            if $odd && !($h =~ /^Connection:\s*close/mi && $len == length $rest);
        return "a $status" if $status >= 500 && $status != 503 && $status != 504;
        if ($json) {
            return "an answer without its anti-framing headers"
                unless $h =~ /^X-Frame-Options:/mi && $h =~ /^X-Content-Type-Options:/mi;
            if ($status >= 400) {
                my $j = eval { decode_json($body) };
                return "a $status without {\"error\": {\"code\", \"message\"}}"
                    unless ref $j eq 'HASH' && ref $j->{error} eq 'HASH' &&
                           defined $j->{error}{code} && defined $j->{error}{message};
            }
        }
        $t = substr($rest, $len);
    }
    return "ok";
}
