#!/usr/bin/env python3
"""lookup_batch_data.py DIR - the data of the batch-lookup test and bench:
DIR/big.txt, 100,000 random PDQs (seeded, the same every run), and
DIR/queries.txt, 10,000 queries: random ones (almost surely no match at 31
bits) with 100 of big's hashes, 0-20 bits flipped, in random places."""
import random
import sys

t = sys.argv[1]
r = random.Random(23)
big = ["%064x" % r.getrandbits(256) for _ in range(100000)]
open(t + "/big.txt", "w").write("\n".join(big) + "\n")
q = ["%064x" % r.getrandbits(256) for _ in range(9900)]
for h in r.sample(big, 100):
    v = int(h, 16)
    for b in r.sample(range(256), r.randrange(21)):
        v ^= 1 << b
    q.insert(r.randrange(len(q) + 1), "%064x" % v)
open(t + "/queries.txt", "w").write("\n".join(q) + "\n")
