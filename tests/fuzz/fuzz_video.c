/* fuzz_video.c - libFuzzer: video bytes through media sniffing and
 * scrim_video_hash_buffer, with tight limits (few frames, small frames,
 * short time budget) so that each input is quick. */
#include "scrim.h"
#include "fuzz_util.h"
#include "../asan_fill.h" /* ASan stands in for scrim__heap_fill */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>


int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    fuzz_init(*argv);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    scrim_video_opts o;
    scrim_video_opts_default(&o);
    o.threads = 1;
    /* every 2nd frame of the 10-fps seeds, or one an hour (the daemon's
     * largest ?seconds_per_hash=) */
    o.seconds_per_hash = (size & 4) ? 3600 : 0.25;
    o.max_frames = 8;
    o.max_duration = 60;
    o.max_side = 1024;
    o.max_pixels = 1 << 20;
    o.probe_size = 1 << 16;
    o.max_streams = 4;
    o.time_budget = 5;
    o.keyframes_only = (size & 2) != 0; /* frames placed by timestamp */
    char err[512] = "";
    scrim_vpdq v;

    (void)scrim_media_sniff(data, size);
    int rc = scrim_video_hash_buffer(data, size, &o, &v, err, sizeof err);
    if (rc && !err[0]) {
        fprintf(stderr, "error %d without a message\n", rc);
        abort();
    }
    if (!rc && (v.count == 0 || v.count > 8)) {
        fprintf(stderr, "%zu frames hashed (limit 8)\n", v.count);
        abort();
    }
    /* The same bytes decode to the same frames: no decoder may leave
     * parts of a damaged frame as it found the memory. */
    scrim_vpdq w;
    char err2[512] = "";
    int rc2 = scrim_video_hash_buffer(data, size, &o, &w, err2, sizeof err2);
    int same = (rc == 0) == (rc2 == 0);
    if (same && !rc) {
        same = v.count == w.count;
        for (size_t i = 0; same && i < v.count; i++)
            same = v.frames[i].frame_number == w.frames[i].frame_number &&
                   v.frames[i].quality == w.frames[i].quality &&
                   scrim_pdq_distance(&v.frames[i].pdq, &w.frames[i].pdq) == 0;
    }
    if (!same) {
        fprintf(stderr, "two decodes disagree: %d (%s) vs %d (%s)\n", rc, err,
                rc2, err2);
        abort();
    }
    scrim_vpdq_free(&w);
    scrim_vpdq_free(&v);
    return 0;
}
