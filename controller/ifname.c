/*
 * ifname: the rule for bridge and port names (see ifname.h).
 */
#include "ifname.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* Is 's' valid UTF-8 (no overlong forms, no surrogates, at most
 * U+10FFFF)?  Names go into JSON, which takes nothing else. */
static bool
is_utf8(const unsigned char *s)
{
    while (*s) {
        unsigned int c = *s++;
        int more;
        unsigned int min;
        if (c < 0x80) {
            continue;
        } else if ((c & 0xe0) == 0xc0) {
            more = 1, min = 0x80, c &= 0x1f;
        } else if ((c & 0xf0) == 0xe0) {
            more = 2, min = 0x800, c &= 0x0f;
        } else if ((c & 0xf8) == 0xf0) {
            more = 3, min = 0x10000, c &= 0x07;
        } else {
            return false;
        }
        /* A NUL ends the loop here too: it is no continuation byte. */
        for (int i = 0; i < more; i++, s++) {
            if ((*s & 0xc0) != 0x80) {
                return false;
            }
            c = (c << 6) | (*s & 0x3f);
        }
        if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff)) {
            return false;
        }
    }
    return true;
}

const char *
ifname_problem(const char *name)
{
    size_t len = strlen(name);
    if (!len || len > IFNAME_MAX_LEN) {
        return "1 to 15 bytes";
    }
    if (!strcmp(name, ".") || !strcmp(name, "..")) {
        return "not \".\" or \"..\"";
    }
    for (const char *c = name; *c; c++) {
        unsigned char u = *c;
        if (u <= 0x20 || u == 0x7f || u == '/' || u == ':') {
            return "no '/', ':', spaces or control characters";
        }
    }
    if (!is_utf8((const unsigned char *) name)) {
        return "not valid UTF-8";
    }
    return NULL;
}

char *
ifname_escape(const char *name, char *buf, size_t size)
{
    size_t n = 0;
    for (const unsigned char *c = (const unsigned char *) name; *c; c++) {
        char one[5];
        if (*c > 0x20 && *c < 0x7f && *c != '\\') {
            one[0] = *c;
            one[1] = '\0';
        } else {
            snprintf(one, sizeof one, "\\x%02x", *c);
        }
        size_t len = strlen(one);
        if (n + len >= size) {
            break;
        }
        memcpy(buf + n, one, len);
        n += len;
    }
    buf[n] = '\0';
    return buf;
}
