/* The codec's lazy check in C: the same verdicts as convo/codec/_converter.py's check_messages,
 * lazy_content and the generated per-shape checks (see "lazy messages" there), for the JSON that
 * orjson parsed. Optional: where this module is not built, the Python functions run, and the test
 * suite compares the two on every realworld line and on generated and mutated ones
 * (tests/test_lazycheck.py).
 *
 * The tables come from Python (configure()), generated from the same field specs as the hooks:
 * shapes maps a block's keys, in order, to (tag, bit, fields), fields being one
 * (kind, check, nullable) per key after "type"; sources maps an image source's keys to its tag;
 * inner is the set of block tags a tool result's content may hold.
 *
 * Nothing here runs Python code: a key that is not exactly a str, or a "type" that is not exactly
 * a str, makes the check answer "no" (the caller then decodes the turn eagerly, which gives the
 * same value or raises the same error), so dict lookups only ever hash and compare str.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

enum { K_RAW = 0, K_JSON = 1, K_SOURCE = 2, K_CONTENT = 3 };
enum { C_ANY = 0, C_STR = 1, C_INT = 2, C_BOOL = 3, C_NUM = 4, C_OBJ = 5, C_LIST = 6 };

#define MAX_KEYS 16 /* no lazy shape has more keys; a block with more has no shape */

static PyObject *shapes = NULL;    /* dict: keys tuple -> (tag, bit, ((kind, check, null), ...)) */
static PyObject *sources = NULL;   /* dict: keys tuple -> tag */
static PyObject *inner = NULL;     /* frozenset of tags */
static PyObject *s_type = NULL, *s_text = NULL, *s_role = NULL, *s_content = NULL;

static const double POS_LIMIT = 18446744073709551616.0; /* 2**64 */
static const double NEG_LIMIT = -9223372036854775808.0; /* -2**63 */

/* The keys of dict d, in order, as a new tuple; values into vals (borrowed). NULL (no error set)
 * when a key is not exactly a str or there are more than MAX_KEYS keys. */
static PyObject *
keys_of(PyObject *d, PyObject **vals, Py_ssize_t *n_out)
{
    Py_ssize_t n = PyDict_GET_SIZE(d);
    if (n > MAX_KEYS)
        return NULL;
    PyObject *t = PyTuple_New(n);
    if (t == NULL) {
        PyErr_Clear();
        return NULL;
    }
    Py_ssize_t pos = 0, i = 0;
    PyObject *k, *v;
    while (PyDict_Next(d, &pos, &k, &v)) {
        if (!PyUnicode_CheckExact(k) || i >= n) {
            Py_DECREF(t);
            return NULL;
        }
        Py_INCREF(k);
        PyTuple_SET_ITEM(t, i, k);
        vals[i++] = v;
    }
    *n_out = i;
    return t;
}

static int
str_eq(PyObject *a, PyObject *b) /* a: any object; b: a str. 1 when a is exactly a str equal to b */
{
    if (a == b)
        return PyUnicode_CheckExact(a);
    if (!PyUnicode_CheckExact(a))
        return 0;
#if PY_VERSION_HEX < 0x030C0000
    if (PyUnicode_READY(a) < 0 || PyUnicode_READY(b) < 0) {
        PyErr_Clear();
        return 0;
    }
#endif
    /* (orjson's keys are its own str objects, not the tables': equal text, one memcmp) */
    Py_ssize_t n = PyUnicode_GET_LENGTH(a);
    int kind = PyUnicode_KIND(a);
    return n == PyUnicode_GET_LENGTH(b) && kind == PyUnicode_KIND(b)
           && memcmp(PyUnicode_DATA(a), PyUnicode_DATA(b), (size_t)n * (size_t)kind) == 0;
}

/* str_eq(a, b), remembering in *alias (a strong reference) the last object found equal to b:
 * orjson hands out the same str object for a key it has seen before (its key cache), so most
 * comparisons end at the first pointer test. */
static inline int
alias_eq(PyObject *a, PyObject *b, PyObject **alias)
{
    if (a == *alias)
        return 1;
    if (!str_eq(a, b))
        return 0;
    Py_INCREF(a);
    Py_XSETREF(*alias, a);
    return 1;
}

static PyObject *a_type = NULL, *a_text_key = NULL, *a_role = NULL, *a_content = NULL;

/* The shapes by tag: tag -> list of (keys, shape), made from shapes (the Python dict itself, which
 * register_block may shrink: rebuilt whenever its size is not the one it was made from), so that
 * a block is looked up by its "type" and its keys compared in place, without a tuple of them.
 * Each entry is [keys, shape, aliases]: aliases holds, per key, the last str found equal to it
 * (see alias_eq). */
static PyObject *by_tag = NULL;
static Py_ssize_t by_tag_size = -1;

static int
index_shapes(void)
{
    PyObject *idx = PyDict_New();
    if (idx == NULL)
        return -1;
    Py_ssize_t pos = 0;
    PyObject *k, *v;
    while (PyDict_Next(shapes, &pos, &k, &v)) {
        PyObject *tag = PyTuple_GET_ITEM(v, 0);
        PyObject *list = PyDict_GetItemWithError(idx, tag); /* borrowed */
        if (list == NULL) {
            if (PyErr_Occurred() || (list = PyList_New(0)) == NULL || PyDict_SetItem(idx, tag, list) < 0) {
                Py_XDECREF(list);
                Py_DECREF(idx);
                return -1;
            }
            Py_DECREF(list); /* (the index holds it) */
        }
        PyObject *aliases = PyList_New(PyTuple_GET_SIZE(k));
        for (Py_ssize_t i = 0; aliases != NULL && i < PyTuple_GET_SIZE(k); i++) {
            Py_INCREF(PyTuple_GET_ITEM(k, i));
            PyList_SET_ITEM(aliases, i, PyTuple_GET_ITEM(k, i));
        }
        PyObject *pair = aliases == NULL ? NULL : PyList_New(3);
        if (pair != NULL) {
            Py_INCREF(k);
            Py_INCREF(v);
            PyList_SET_ITEM(pair, 0, k);
            PyList_SET_ITEM(pair, 1, v);
            PyList_SET_ITEM(pair, 2, aliases);
        }
        else
            Py_XDECREF(aliases);
        if (pair == NULL || PyList_Append(list, pair) < 0) {
            Py_XDECREF(pair);
            Py_DECREF(idx);
            return -1;
        }
        Py_DECREF(pair);
    }
    Py_XSETREF(by_tag, idx);
    by_tag_size = PyDict_GET_SIZE(shapes);
    return 0;
}

/* The shape of a block of n keys (keys[0] being "type", vals[0] its tag), or NULL (no error set). */
static PyObject *
find_shape(PyObject **keys, PyObject **vals, Py_ssize_t n)
{
    if (PyDict_GET_SIZE(shapes) != by_tag_size && index_shapes() < 0) {
        PyErr_Clear();
        return NULL;
    }
    if (!alias_eq(keys[0], s_type, &a_type) || !PyUnicode_CheckExact(vals[0]))
        return NULL;
    PyObject *cands = PyDict_GetItemWithError(by_tag, vals[0]); /* borrowed */
    if (cands == NULL) {
        PyErr_Clear();
        return NULL;
    }
    for (Py_ssize_t c = 0; c < PyList_GET_SIZE(cands); c++) {
        PyObject *pair = PyList_GET_ITEM(cands, c);
        PyObject *kt = PyList_GET_ITEM(pair, 0);
        if (PyTuple_GET_SIZE(kt) != n)
            continue;
        PyObject **aliases = ((PyListObject *)PyList_GET_ITEM(pair, 2))->ob_item;
        Py_ssize_t i = 1;
        while (i < n && alias_eq(keys[i], PyTuple_GET_ITEM(kt, i), &aliases[i]))
            i++;
        if (i == n)
            return PyList_GET_ITEM(pair, 1);
    }
    return NULL;
}

/* How deep scan() looks before it answers "no" (the eager path then decides). The Python check
 * stops at the interpreter's recursion limit, which since 3.12 no longer bounds C recursion: a
 * fixed depth keeps this check from taking lazily what the Python one would not (JSON nested this
 * deep is rare, and orjson writes at most 255 levels anyway). */
#define MAX_DEPTH 200

/* _scan: no float that may stand for a huge integer, at any depth. 0 also on too deep a value. */
static int
scan(PyObject *v, int depth)
{
    if (PyFloat_CheckExact(v)) {
        double d = PyFloat_AS_DOUBLE(v);
        return !(d >= POS_LIMIT || d <= NEG_LIMIT);
    }
    int dict = PyDict_CheckExact(v);
    if (!dict && !PyList_CheckExact(v))
        return 1;
    if (depth >= MAX_DEPTH)
        return 0;
    if (Py_EnterRecursiveCall(" in convo's lazy check")) {
        PyErr_Clear();
        return 0;
    }
    int ok = 1;
    if (dict) {
        Py_ssize_t pos = 0;
        PyObject *k, *x;
        while (ok && PyDict_Next(v, &pos, &k, &x))
            ok = scan(x, depth + 1);
    }
    else {
        for (Py_ssize_t i = 0; ok && i < PyList_GET_SIZE(v); i++)
            ok = scan(PyList_GET_ITEM(v, i), depth + 1);
    }
    Py_LeaveRecursiveCall();
    return ok;
}

/* _lazy_source: one of the plain source kinds, keys in the written order, every field a str. */
static int
source_ok(PyObject *v)
{
    if (!PyDict_CheckExact(v))
        return 0;
    PyObject *vals[MAX_KEYS];
    Py_ssize_t n;
    PyObject *keys = keys_of(v, vals, &n);
    if (keys == NULL)
        return 0;
    PyObject *tag = PyDict_GetItemWithError(sources, keys); /* borrowed */
    if (tag == NULL) {
        PyErr_Clear();
        Py_DECREF(keys);
        return 0;
    }
    int ok = 1;
    for (Py_ssize_t i = 0; ok && i < n; i++) {
        if (str_eq(PyTuple_GET_ITEM(keys, i), s_type))
            ok = str_eq(vals[i], tag);
        else
            ok = PyUnicode_CheckExact(vals[i]);
    }
    Py_DECREF(keys);
    return ok;
}

static long content_mask(PyObject *v, int inner_only);

/* The generated check of one block of *n* keys (their values in vals, in order) whose shape is
 * *shape*: its bits, or -1. */
static long
block_mask(PyObject **vals, Py_ssize_t n, PyObject *shape)
{
    PyObject *tag = PyTuple_GET_ITEM(shape, 0);
    long mask = PyLong_AsLong(PyTuple_GET_ITEM(shape, 1));
    PyObject *fields = PyTuple_GET_ITEM(shape, 2);
    if (n != PyTuple_GET_SIZE(fields) + 1 || !str_eq(vals[0], tag))
        return -1; /* (keys[0] is "type": shapes are keyed so) */
    for (Py_ssize_t i = 1; i < n; i++) {
        PyObject *f = PyTuple_GET_ITEM(fields, i - 1);
        long kind = PyLong_AsLong(PyTuple_GET_ITEM(f, 0));
        long check = PyLong_AsLong(PyTuple_GET_ITEM(f, 1));
        PyObject *v = vals[i];
        if (v == Py_None && PyTuple_GET_ITEM(f, 2) == Py_True)
            continue;
        int ok;
        switch (check) {
        case C_ANY: ok = 1; break;
        case C_STR: ok = PyUnicode_CheckExact(v); break;
        case C_INT: ok = PyLong_CheckExact(v); break;
        case C_BOOL: ok = PyBool_Check(v); break;
        case C_NUM: ok = PyLong_CheckExact(v) || PyFloat_CheckExact(v); break;
        case C_OBJ: ok = PyDict_CheckExact(v); break;
        case C_LIST: ok = PyList_CheckExact(v); break;
        default: ok = 0;
        }
        if (!ok)
            return -1;
        switch (kind) {
        case K_RAW:
            break;
        case K_JSON:
            if (!scan(v, 0))
                return -1;
            break;
        case K_SOURCE:
            if (!source_ok(v))
                return -1;
            break;
        case K_CONTENT:
            if (PyList_CheckExact(v)) {
                long r = content_mask(v, 1);
                if (r < 0)
                    return -1;
                mask |= r;
            }
            else if (!PyUnicode_CheckExact(v))
                return -1;
            break;
        default:
            return -1;
        }
    }
    return mask;
}

/* The bits of a parsed content array (lazy_content; _lazy_inner when inner_only), or -1. */
static long
content_mask(PyObject *v, int inner_only)
{
    long mask = 0;
    if (inner_only && Py_EnterRecursiveCall(" in convo's lazy check")) {
        PyErr_Clear();
        return -1;
    }
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(v); i++) {
        PyObject *b = PyList_GET_ITEM(v, i);
        if (!PyDict_CheckExact(b)) {
            mask = -1;
            break;
        }
        PyObject *vals[MAX_KEYS];
        Py_ssize_t n;
        /* the common block, checked inline: {"type": "text", "text": str} */
        if (PyDict_GET_SIZE(b) == 2) {
            Py_ssize_t pos = 0;
            PyObject *k0, *v0, *k1, *v1;
            PyDict_Next(b, &pos, &k0, &v0);
            PyDict_Next(b, &pos, &k1, &v1);
            if (alias_eq(k0, s_type, &a_type) && alias_eq(k1, s_text, &a_text_key)) {
                if (!str_eq(v0, s_text) || !PyUnicode_CheckExact(v1)) { /* (a value: orjson makes each anew) */
                    mask = -1;
                    break;
                }
                mask |= 1;
                continue;
            }
        }
        n = PyDict_GET_SIZE(b);
        if (n < 1 || n > MAX_KEYS) {
            mask = -1;
            break;
        }
        PyObject *keys[MAX_KEYS];
        Py_ssize_t pos = 0, j = 0;
        PyObject *k, *x;
        while (j < n && PyDict_Next(b, &pos, &k, &x)) {
            keys[j] = k;
            vals[j++] = x;
        }
        PyObject *shape = j == n ? find_shape(keys, vals, n) : NULL; /* borrowed */
        long r;
        if (shape == NULL)
            r = -1;
        else if (inner_only && PySet_Contains(inner, PyTuple_GET_ITEM(shape, 0)) != 1) {
            PyErr_Clear();
            r = -1;
        }
        else
            r = block_mask(vals, n, shape);
        if (r < 0) {
            mask = -1;
            break;
        }
        mask |= r;
    }
    if (inner_only)
        Py_LeaveRecursiveCall();
    return mask;
}

static int
ready(void)
{
    if (shapes == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "convo.codec._lazycheck: configure() first");
        return 0;
    }
    return 1;
}

static PyObject *
lazy_content(PyObject *self, PyObject *v)
{
    if (!ready())
        return NULL;
    if (!PyList_CheckExact(v))
        return PyLong_FromLong(-1);
    return PyLong_FromLong(content_mask(v, 0));
}

static PyObject *
check_messages(PyObject *self, PyObject *v)
{
    if (!ready())
        return NULL;
    if (!PyList_CheckExact(v))
        Py_RETURN_NONE;
    Py_ssize_t n = PyList_GET_SIZE(v);
    PyObject *out = PyList_New(n);
    if (out == NULL)
        return NULL;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *d = PyList_GET_ITEM(v, i);
        if (!PyDict_CheckExact(d) || PyDict_GET_SIZE(d) != 2)
            goto no;
        Py_ssize_t pos = 0;
        PyObject *k0, *role, *k1, *c;
        PyDict_Next(d, &pos, &k0, &role);
        PyDict_Next(d, &pos, &k1, &c);
        if (!alias_eq(k0, s_role, &a_role) || !PyUnicode_CheckExact(role) || !alias_eq(k1, s_content, &a_content))
            goto no;
        long mask;
        if (PyUnicode_CheckExact(c))
            mask = 0;
        else if (PyList_CheckExact(c)) {
            mask = content_mask(c, 0);
            if (mask < 0)
                goto no;
        }
        else
            goto no;
        PyObject *m = PyLong_FromLong(mask);
        if (m == NULL) {
            Py_DECREF(out);
            return NULL;
        }
        PyList_SET_ITEM(out, i, m);
        continue;
    no:
        Py_DECREF(out); /* (the items not set yet are NULL: list dealloc skips them) */
        Py_RETURN_NONE;
    }
    return out;
}

static PyObject *
configure(PyObject *self, PyObject *args)
{
    PyObject *sh, *so, *in;
    if (!PyArg_ParseTuple(args, "O!O!O!", &PyDict_Type, &sh, &PyDict_Type, &so, &PyFrozenSet_Type, &in))
        return NULL;
    Py_ssize_t pos = 0;
    PyObject *k, *v;
    while (PyDict_Next(sh, &pos, &k, &v)) { /* the shapes' form, checked once, here */
        if (!PyTuple_Check(k) || PyTuple_GET_SIZE(k) < 1 || PyTuple_GET_SIZE(k) > MAX_KEYS
            || !PyTuple_Check(v) || PyTuple_GET_SIZE(v) != 3
            || !PyUnicode_CheckExact(PyTuple_GET_ITEM(v, 0)) || !PyLong_CheckExact(PyTuple_GET_ITEM(v, 1))
            || !PyTuple_Check(PyTuple_GET_ITEM(v, 2))
            || PyTuple_GET_SIZE(PyTuple_GET_ITEM(v, 2)) != PyTuple_GET_SIZE(k) - 1) {
            PyErr_SetString(PyExc_ValueError, "a shape is (tag, bit, fields), one field per key after 'type'");
            return NULL;
        }
        PyObject *fields = PyTuple_GET_ITEM(v, 2);
        for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(fields); i++) {
            PyObject *f = PyTuple_GET_ITEM(fields, i);
            if (!PyTuple_Check(f) || PyTuple_GET_SIZE(f) != 3 || !PyLong_CheckExact(PyTuple_GET_ITEM(f, 0))
                || !PyLong_CheckExact(PyTuple_GET_ITEM(f, 1)) || !PyBool_Check(PyTuple_GET_ITEM(f, 2))) {
                PyErr_SetString(PyExc_ValueError, "a field is (kind, check, nullable)");
                return NULL;
            }
        }
    }
    Py_INCREF(sh);
    Py_INCREF(so);
    Py_INCREF(in);
    Py_XSETREF(shapes, sh);
    Py_XSETREF(sources, so);
    Py_XSETREF(inner, in);
    by_tag_size = -1; /* (indexed again on first use) */
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"configure", configure, METH_VARARGS,
     "configure(shapes, sources, inner): the tables of the lazy check (see convo.codec._converter)."},
    {"check_messages", check_messages, METH_O,
     "check_messages(v): each turn's lazy bits, or None (as convo.codec._converter.check_messages)."},
    {"lazy_content", lazy_content, METH_O,
     "lazy_content(v): a content array's lazy bits, or -1 (as convo.codec._converter.lazy_content)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "convo.codec._lazycheck",
    "The codec's lazy check in C (optional; see convo/codec/_lazycheck.c).", -1, methods,
};

PyMODINIT_FUNC
PyInit__lazycheck(void)
{
    s_type = PyUnicode_InternFromString("type");
    s_text = PyUnicode_InternFromString("text");
    s_role = PyUnicode_InternFromString("role");
    s_content = PyUnicode_InternFromString("content");
    if (s_type == NULL || s_text == NULL || s_role == NULL || s_content == NULL)
        return NULL;
    return PyModule_Create(&module);
}
