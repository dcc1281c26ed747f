/*
 * vmacctl-table: how vmacctl shows the API's JSON to people: values as
 * text, "label: value" fields, and tables with padded columns.
 */
#include "vmacctl-private.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "openvswitch/dynamic-string.h"
#include "util.h"

/* A value as text: strings as is, booleans yes/no, null and missing "-",
 * arrays of scalars comma-separated. */
void
vmacctl_put_value(struct ds *s, const json_t *v)
{
    switch (v ? json_typeof(v) : JSON_NULL) {
    case JSON_STRING:
        ds_put_cstr(s, json_string_value(v));
        break;
    case JSON_INTEGER:
        ds_put_format(s, "%lld", (long long) json_integer_value(v));
        break;
    case JSON_REAL:
        ds_put_format(s, "%g", json_real_value(v));
        break;
    case JSON_TRUE:
        ds_put_cstr(s, "yes");
        break;
    case JSON_FALSE:
        ds_put_cstr(s, "no");
        break;
    case JSON_ARRAY: {
        size_t i;
        json_t *e;
        if (!json_array_size(v)) {
            ds_put_cstr(s, "-");
        }
        json_array_foreach (v, i, e) {
            if (i) {
                ds_put_char(s, ',');
            }
            vmacctl_put_value(s, e);
        }
        break;
    }
    case JSON_OBJECT: {
        const char *key;
        json_t *e;
        bool first = true;
        if (!json_object_size(v)) {
            ds_put_cstr(s, "-");
        }
        json_object_foreach ((json_t *) v, key, e) {
            ds_put_format(s, "%s%s=", first ? "" : " ", key);
            vmacctl_put_value(s, e);
            first = false;
        }
        break;
    }
    case JSON_NULL:
    default:
        ds_put_cstr(s, "-");
        break;
    }
}

/* The value of 'key' in 'obj' as vmacctl_put_value() writes it, in a new
 * string. */
char *
vmacctl_value_str(const json_t *obj, const char *key)
{
    struct ds s = DS_EMPTY_INITIALIZER;
    vmacctl_put_value(&s, json_object_get(obj, key));
    return ds_steal_cstr(&s);
}

/* Starts 't' with a row of the 'n_cols' column names in 'header'. */
void
vmacctl_table_init(struct vmacctl_table *t, const char *const *header,
                   size_t n_cols)
{
    t->n_cols = n_cols;
    t->n_cells = 0;
    t->cells = NULL;
    for (size_t i = 0; i < n_cols; i++) {
        t->cells = xrealloc(t->cells, (t->n_cells + 1) * sizeof *t->cells);
        t->cells[t->n_cells++] = xstrdup(header[i]);
    }
}

/* Adds a cell, taking ownership of 'cell'. */
void
vmacctl_table_add(struct vmacctl_table *t, char *cell)
{
    t->cells = xrealloc(t->cells, (t->n_cells + 1) * sizeof *t->cells);
    t->cells[t->n_cells++] = cell;
}

/* Prints 't' and frees its cells. */
void
vmacctl_table_print(struct vmacctl_table *t)
{
    size_t *width = xcalloc(t->n_cols, sizeof *width);

    for (size_t i = 0; i < t->n_cells; i++) {
        size_t len = strlen(t->cells[i]);
        width[i % t->n_cols] = MAX(width[i % t->n_cols], len);
    }
    struct ds line = DS_EMPTY_INITIALIZER;
    for (size_t i = 0; i < t->n_cells; i++) {
        size_t col = i % t->n_cols;
        ds_put_format(&line, "%-*s", (int) width[col], t->cells[i]);
        if (col == t->n_cols - 1) {
            while (line.length && line.string[line.length - 1] == ' ') {
                line.length--;
            }
            printf("%s\n", ds_cstr(&line));
            ds_clear(&line);
        } else {
            ds_put_cstr(&line, "  ");
        }
    }
    ds_destroy(&line);
    for (size_t i = 0; i < t->n_cells; i++) {
        free(t->cells[i]);
    }
    free(t->cells);
    free(width);
}

/* One "label value" line, the values aligned. */
void
vmacctl_print_field(const json_t *obj, const char *key, const char *label)
{
    char *v = vmacctl_value_str(obj, key);
    printf("%-17s %s\n", label, v);
    free(v);
}
