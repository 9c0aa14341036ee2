/* page.c - embeds src/review/page.html into the library at build time
 * (.incbin; the Makefile makes this object depend on the HTML file). */

/* The page's bytes, NUL-terminated, and its length without the NUL. */
__asm__(".section .rodata\n"
        ".global scrim__review_page\n"
        ".type scrim__review_page, @object\n"
        ".balign 16\n"
        "scrim__review_page:\n"
        ".incbin \"src/review/page.html\"\n"
        "scrim__review_page_end:\n"
        ".byte 0\n"
        ".global scrim__review_page_len\n"
        ".type scrim__review_page_len, @object\n"
        ".balign 4\n"
        "scrim__review_page_len:\n"
        ".long scrim__review_page_end - scrim__review_page\n"
        ".previous\n");
