/* review.h - what the review folder's files share.  Not public API. */
#ifndef SCRIM_REVIEW_H_PRIVATE
#define SCRIM_REVIEW_H_PRIVATE

/* The review page (page.html), embedded by page.c: its bytes, NUL-
 * terminated, and its length without the NUL. */
extern const char scrim__review_page[];
extern const unsigned scrim__review_page_len;

#endif
