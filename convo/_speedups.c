/* Slot copying for convo's frozen values, in C. Optional: where this module is not built, the
 * same work is done by generated Python (convo/transforms/_base.py's replacers, convo/codec's
 * hooks), which the tests compare with it (tests/test_speedups.py).
 *
 * clone(obj): a new instance of obj's class holding the same slot values, made without calling
 *     __new__ or __init__ (as object.__new__ followed by one setter per slot). Only for instances
 *     of heap types whose values are all in __slots__ (no instance __dict__).
 * maker(cls, names): a callable that takes one positional argument per name and returns a new
 *     instance of cls (object.__new__(cls)) with each name's slot set to its argument; the other
 *     slots stay empty, as they are after object.__new__.
 * packer(cls, names, keys, skip): a callable that takes an instance of cls and returns a new dict
 *     of keys[i]: the value of slot names[i], in that order, leaving out the slots that hold skip
 *     (an empty slot gives None).
 *
 * clean_turns(turns, masks): True when the parsed turns of a lazily decoded request need neither
 *     the message pass of convo.rules nor the closed world's walk of messages, False for "maybe",
 *     or the list of (message, block, inner index or -1) of the blocks left to look at (images,
 *     for their own rules, and blocks with a cache_control key, for the breakpoints)
 *     (convo/rules/_turns.py's clean_turns_py, which the tests hold it to, says what it checks).
 *
 * A frozen value's class refuses setattr; both functions write the slots directly, which is what
 * the Python fallbacks do through each slot's descriptor. Neither runs Python code.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>

/* 1 when tp's instances keep every value in slots: tp and each base but object made by a class
 * statement, and no instance __dict__. Else 0, with TypeError set. */
static int
slotted(PyTypeObject *tp)
{
    int ok = tp->tp_dictoffset == 0 && tp->tp_mro != NULL;
    for (Py_ssize_t i = 0; ok && i < PyTuple_GET_SIZE(tp->tp_mro); i++) {
        PyTypeObject *b = (PyTypeObject *)PyTuple_GET_ITEM(tp->tp_mro, i);
        ok = b == &PyBaseObject_Type || (b->tp_flags & Py_TPFLAGS_HEAPTYPE);
    }
    if (!ok)
        PyErr_Format(PyExc_TypeError, "convo._speedups: %.200s is not a class whose values are all in __slots__",
                     tp->tp_name);
    return ok;
}

static PyObject *
clone_(PyObject *self, PyObject *obj)
{
    PyTypeObject *tp = Py_TYPE(obj);
    if (!slotted(tp))
        return NULL;
    PyObject *new = tp->tp_alloc(tp, 0);
    if (new == NULL)
        return NULL;
    PyObject *mro = tp->tp_mro;
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(mro); i++) {
        PyTypeObject *b = (PyTypeObject *)PyTuple_GET_ITEM(mro, i);
        if (!(b->tp_flags & Py_TPFLAGS_HEAPTYPE) || b->tp_members == NULL)
            continue;
        for (PyMemberDef *m = b->tp_members; m->name != NULL; m++) {
            if ((m->type != T_OBJECT_EX && m->type != T_OBJECT) || (m->flags & READONLY))
                continue;
            PyObject **dst = (PyObject **)((char *)new + m->offset);
            PyObject *v = *(PyObject **)((char *)obj + m->offset);
            if (*dst == NULL && v != NULL) {
                Py_INCREF(v);
                *dst = v;
            }
        }
    }
    return new;
}

/* The offset of the writable object slot *name* of tp, or -1 with TypeError set. */
static Py_ssize_t
slot_offset(PyTypeObject *tp, PyObject *name)
{
    PyObject *d = PyUnicode_Check(name) ? _PyType_Lookup(tp, name) : NULL; /* borrowed */
    if (d == NULL || !Py_IS_TYPE(d, &PyMemberDescr_Type)) {
        PyErr_Format(PyExc_TypeError, "convo._speedups: %R is not a slot of %.200s", name, tp->tp_name);
        return -1;
    }
    PyMemberDef *m = ((PyMemberDescrObject *)d)->d_member;
    if ((m->type != T_OBJECT_EX && m->type != T_OBJECT) || (m->flags & READONLY)) {
        PyErr_Format(PyExc_TypeError, "convo._speedups: %R is not a writable slot of %.200s", name, tp->tp_name);
        return -1;
    }
    return m->offset;
}

/* maker and packer: one type of callable over a class and some of its slots ---------------- */

typedef struct {
    PyObject_VAR_HEAD /* Py_SIZE: how many slots */
    PyTypeObject *cls;
    PyObject *keys;   /* a packer's: tuple of str, one per slot; NULL for a maker */
    PyObject *skip;   /* a packer's: the value whose slots it leaves out */
    vectorcallfunc vectorcall;
    Py_ssize_t offsets[1]; /* Py_SIZE of them */
} SlotFunction;

static PyObject *
maker_vectorcall(PyObject *self, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    SlotFunction *f = (SlotFunction *)self;
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    if (kwnames != NULL && PyTuple_GET_SIZE(kwnames) != 0) {
        PyErr_SetString(PyExc_TypeError, "a convo maker takes positional arguments only");
        return NULL;
    }
    if (nargs != Py_SIZE(f)) {
        PyErr_Format(PyExc_TypeError, "a convo maker of %.200s takes %zd arguments (%zd given)",
                     f->cls->tp_name, Py_SIZE(f), nargs);
        return NULL;
    }
    PyObject *new = f->cls->tp_alloc(f->cls, 0);
    if (new == NULL)
        return NULL;
    for (Py_ssize_t i = 0; i < nargs; i++) {
        PyObject **dst = (PyObject **)((char *)new + f->offsets[i]);
        Py_INCREF(args[i]);
        Py_XSETREF(*dst, args[i]);
    }
    return new;
}

static PyObject *
packer_vectorcall(PyObject *self, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    SlotFunction *f = (SlotFunction *)self;
    if (PyVectorcall_NARGS(nargsf) != 1 || (kwnames != NULL && PyTuple_GET_SIZE(kwnames) != 0)) {
        PyErr_SetString(PyExc_TypeError, "a convo packer takes one value");
        return NULL;
    }
    PyObject *obj = args[0];
    if (!PyObject_TypeCheck(obj, f->cls)) {
        PyErr_Format(PyExc_TypeError, "a convo packer of %.200s got %.200s", f->cls->tp_name, Py_TYPE(obj)->tp_name);
        return NULL;
    }
    PyObject *d = PyDict_New();
    if (d == NULL)
        return NULL;
    for (Py_ssize_t i = 0; i < Py_SIZE(f); i++) {
        PyObject *v = *(PyObject **)((char *)obj + f->offsets[i]);
        if (v == f->skip)
            continue;
        if (PyDict_SetItem(d, PyTuple_GET_ITEM(f->keys, i), v == NULL ? Py_None : v) < 0) {
            Py_DECREF(d);
            return NULL;
        }
    }
    return d;
}

static void
slotfunction_dealloc(PyObject *self)
{
    SlotFunction *f = (SlotFunction *)self;
    PyObject_GC_UnTrack(self);
    Py_CLEAR(f->cls);
    Py_CLEAR(f->keys);
    Py_CLEAR(f->skip);
    PyObject_GC_Del(self);
}

static int
slotfunction_traverse(PyObject *self, visitproc visit, void *arg)
{
    SlotFunction *f = (SlotFunction *)self;
    Py_VISIT(f->cls);
    Py_VISIT(f->keys);
    Py_VISIT(f->skip);
    return 0;
}

static PyObject *
slotfunction_repr(PyObject *self)
{
    SlotFunction *f = (SlotFunction *)self;
    return PyUnicode_FromFormat("<convo %s of %s>", f->keys == NULL ? "maker" : "packer", f->cls->tp_name);
}

static PyTypeObject SlotFunctionType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "convo._speedups.SlotFunction",
    .tp_basicsize = sizeof(SlotFunction) - sizeof(Py_ssize_t),
    .tp_itemsize = sizeof(Py_ssize_t),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_HAVE_VECTORCALL,
    .tp_vectorcall_offset = offsetof(SlotFunction, vectorcall),
    .tp_call = PyVectorcall_Call,
    .tp_dealloc = slotfunction_dealloc,
    .tp_traverse = slotfunction_traverse,
    .tp_repr = slotfunction_repr,
    .tp_doc = "A maker or a packer of a class (see convo/_speedups.c).",
};

/* A new SlotFunction of cls over the slots named in names (a tuple), each named once; keys and
 * skip as the packer's (keys NULL: a maker). NULL with TypeError set on a bad name. */
static PyObject *
slot_function(PyObject *cls, PyObject *names, PyObject *keys, PyObject *skip, vectorcallfunc call)
{
    PyTypeObject *tp = (PyTypeObject *)cls;
    if (!slotted(tp))
        return NULL;
    Py_ssize_t n = PyTuple_GET_SIZE(names);
    if (keys != NULL && PyTuple_GET_SIZE(keys) != n) {
        PyErr_SetString(PyExc_TypeError, "convo._speedups.packer: one key per name");
        return NULL;
    }
    SlotFunction *f = PyObject_GC_NewVar(SlotFunction, &SlotFunctionType, n > 0 ? n : 1);
    if (f == NULL)
        return NULL;
    Py_SET_SIZE(f, n);
    f->cls = NULL;
    f->keys = NULL;
    f->skip = NULL;
    f->vectorcall = call;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *name = PyTuple_GET_ITEM(names, i);
        Py_ssize_t offset = slot_offset(tp, name);
        for (Py_ssize_t j = 0; offset >= 0 && j < i; j++) {
            if (f->offsets[j] == offset) {
                PyErr_Format(PyExc_TypeError, "convo._speedups: %R is named twice", name);
                offset = -1;
            }
        }
        if (offset >= 0 && keys != NULL && !PyUnicode_CheckExact(PyTuple_GET_ITEM(keys, i))) {
            PyErr_SetString(PyExc_TypeError, "convo._speedups.packer: keys are str");
            offset = -1;
        }
        if (offset < 0) {
            Py_DECREF(f);
            return NULL;
        }
        f->offsets[i] = offset;
    }
    Py_INCREF(cls);
    f->cls = tp;
    Py_XINCREF(keys);
    f->keys = keys;
    Py_XINCREF(skip);
    f->skip = skip;
    PyObject_GC_Track((PyObject *)f);
    return (PyObject *)f;
}

static PyObject *
maker(PyObject *self, PyObject *args)
{
    PyObject *cls, *names;
    if (!PyArg_ParseTuple(args, "O!O!:maker", &PyType_Type, &cls, &PyTuple_Type, &names))
        return NULL;
    return slot_function(cls, names, NULL, NULL, maker_vectorcall);
}

static PyObject *
packer(PyObject *self, PyObject *args)
{
    PyObject *cls, *names, *keys, *skip;
    if (!PyArg_ParseTuple(args, "O!O!O!O:packer", &PyType_Type, &cls, &PyTuple_Type, &names, &PyTuple_Type, &keys,
                          &skip))
        return NULL;
    return slot_function(cls, names, keys, skip, packer_vectorcall);
}

/* ------------------------------------------------------------------ clean_turns */

enum { K_TYPE, K_TEXT, K_ROLE, K_CONTENT, K_THINKING, K_SIGNATURE, K_DATA, K_ID, K_NAME, K_INPUT,
       K_TOOL_USE_ID, K_IS_ERROR, K_USER, K_ASSISTANT, K_TOOL_USE, K_TOOL_RESULT, K_REDACTED, K_IMAGE, K_SOURCE,
       K_CACHE_CONTROL, K_COUNT };
static const char *const WORDS[K_COUNT] = {
    "type", "text", "role", "content", "thinking", "signature", "data", "id", "name", "input",
    "tool_use_id", "is_error", "user", "assistant", "tool_use", "tool_result", "redacted_thinking", "image",
    "source", "cache_control",
};
static PyObject *W[K_COUNT]; /* interned */

/* the keys each judged block type may have (convo.rules._turns.BLOCK_KEYS), -1 ended */
enum { B_OTHER, B_TEXT, B_THINKING, B_REDACTED, B_TOOL_USE, B_TOOL_RESULT, B_IMAGE };
static const int BLOCK_KEYS[][6] = {
    [B_OTHER] = {-1},
    [B_TEXT] = {K_TYPE, K_TEXT, K_CACHE_CONTROL, -1},
    [B_THINKING] = {K_TYPE, K_THINKING, K_SIGNATURE, -1},
    [B_REDACTED] = {K_TYPE, K_DATA, -1},
    [B_TOOL_USE] = {K_TYPE, K_ID, K_NAME, K_INPUT, K_CACHE_CONTROL, -1},
    [B_TOOL_RESULT] = {K_TYPE, K_TOOL_USE_ID, K_CONTENT, K_IS_ERROR, K_CACHE_CONTROL, -1},
    [B_IMAGE] = {K_TYPE, K_SOURCE, K_CACHE_CONTROL, -1},
};

/* whether str s is the word k */
static int
is_word(PyObject *s, int k)
{
    PyObject *w = W[k];
    return s == w || (PyUnicode_GET_LENGTH(s) == PyUnicode_GET_LENGTH(w) && PyUnicode_Compare(s, w) == 0);
}

/* d[W[k]] or NULL (no error set: the dicts hold str keys only) */
static PyObject *
item(PyObject *d, int k)
{
    return PyDict_GetItemWithError(d, W[k]);
}

/* 1 when v is a str that is empty or only whitespace (str.isspace, or ""); 0 else; -1 not a str */
static int
blank(PyObject *v)
{
    if (!PyUnicode_CheckExact(v))
        return -1;
    Py_ssize_t n = PyUnicode_GET_LENGTH(v);
    int kind = PyUnicode_KIND(v);
    const void *data = PyUnicode_DATA(v);
    for (Py_ssize_t i = 0; i < n; i++)
        if (!Py_UNICODE_ISSPACE(PyUnicode_READ(kind, data, i)))
            return 0;
    return 1;
}

/* whether the str v (not empty) ends in whitespace */
static int
ends_in_space(PyObject *v)
{
    Py_ssize_t n = PyUnicode_GET_LENGTH(v);
    return n > 0 && Py_UNICODE_ISSPACE(PyUnicode_READ_CHAR(v, n - 1));
}


/* the judged type of block b (a dict), B_OTHER for any other; 0 when a key is not its type's */
static int
block_kind(PyObject *b)
{
    PyObject *t = item(b, K_TYPE);
    if (t == NULL || !PyUnicode_CheckExact(t))
        return B_OTHER;
    int kind = is_word(t, K_TEXT) ? B_TEXT : is_word(t, K_TOOL_USE) ? B_TOOL_USE
             : is_word(t, K_TOOL_RESULT) ? B_TOOL_RESULT : is_word(t, K_THINKING) ? B_THINKING
             : is_word(t, K_REDACTED) ? B_REDACTED : is_word(t, K_IMAGE) ? B_IMAGE : B_OTHER;
    if (kind == B_OTHER)
        return B_OTHER;
    Py_ssize_t pos = 0;
    PyObject *key, *value;
    while (PyDict_Next(b, &pos, &key, &value)) {
        const int *k = BLOCK_KEYS[kind];
        while (*k >= 0 && !(PyUnicode_CheckExact(key) && is_word(key, *k)))
            k++;
        if (*k < 0)
            return B_OTHER;
    }
    return kind;
}

/* note a block to look at (an image, or one with a cache_control key): (i, j, k) appended to
 * *looks (made on first use); 0 on error */
static int
note_look(PyObject **looks, Py_ssize_t i, Py_ssize_t j, Py_ssize_t k)
{
    if (*looks == NULL && (*looks = PyList_New(0)) == NULL)
        return 0;
    PyObject *at = Py_BuildValue("(nnn)", i, j, k);
    int ok = at != NULL && PyList_Append(*looks, at) == 0;
    Py_XDECREF(at);
    return ok;
}

/* whether block b has a cache_control key */
static int
has_cc(PyObject *b)
{
    return item(b, K_CACHE_CONTROL) != NULL;
}

/* block j of turn i is a text block: 1 when its text is a str neither empty nor only
 * whitespace (its breakpoint, if any, noted), 0 when not, -1 on error */
static int
text_block(PyObject *b, Py_ssize_t i, Py_ssize_t j, PyObject **looks)
{
    PyObject *text = item(b, K_TEXT);
    if (text == NULL || blank(text) != 0)
        return 0;
    return has_cc(b) && !note_look(looks, i, j, -1) ? -1 : 1;
}

/* an image block's source is an object (the lazy check knows its kind) */
static int
has_source(PyObject *b)
{
    PyObject *src = item(b, K_SOURCE);
    return src != NULL && PyDict_CheckExact(src);
}

static int clean_inner(PyObject *c, Py_ssize_t i, Py_ssize_t j, PyObject **looks);

/* a tool_result's own values: is_error a bool, content a str or non-empty text blocks and images
 * (noted); 1, 0, or -1 on error */
static int
clean_result(PyObject *b, Py_ssize_t i, Py_ssize_t j, PyObject **looks)
{
    PyObject *e = item(b, K_IS_ERROR);
    if (e != NULL && e != Py_True && e != Py_False)
        return 0;
    PyObject *c = item(b, K_CONTENT);
    if (c != NULL && !PyUnicode_CheckExact(c)) {
        int r = PyList_CheckExact(c) ? clean_inner(c, i, j, looks) : 0;
        if (r <= 0)
            return r;
    }
    /* its own breakpoint comes after those of its content, as the message pass counts them */
    return has_cc(b) && !note_look(looks, i, j, -1) ? -1 : 1;
}

/* a tool_result's content blocks: non-empty text and images (noted, as are blocks with a
 * cache_control key); 1, 0, or -1 on error */
static int
clean_inner(PyObject *c, Py_ssize_t i, Py_ssize_t j, PyObject **looks)
{
    for (Py_ssize_t k = 0; k < PyList_GET_SIZE(c); k++) {
        PyObject *x = PyList_GET_ITEM(c, k);
        int kind = PyDict_CheckExact(x) ? block_kind(x) : B_OTHER;
        if (kind == B_IMAGE) {
            if (!has_source(x))
                return 0;
            if (!note_look(looks, i, j, k))
                return -1;
            continue;
        }
        if (kind != B_TEXT)
            return 0;
        PyObject *text = item(x, K_TEXT);
        if (text == NULL || !PyUnicode_CheckExact(text) || PyUnicode_GET_LENGTH(text) == 0)
            return 0;
        if (has_cc(x) && !note_look(looks, i, j, k))
            return -1;
    }
    return 1;
}

/* the verdict, 1 or 0 (-1 on error); seen, asked and asks are empty sets it may fill; the
 * blocks to look at go to *looks */
static int
judge(PyObject *turns, PyObject *masks, PyObject *seen, PyObject *asked, PyObject *asks, PyObject **looks)
{
    Py_ssize_t n = PyList_GET_SIZE(turns);
    if (n == 0 || n > 100000 || PyList_GET_SIZE(masks) != n)
        return 0;
    int prev_user = 0; /* the role of the previous turn is user (the first must be user) */
    int asked_any = 0; /* asked holds the tool_use ids of the previous (assistant) turn */
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *d = PyList_GET_ITEM(turns, i), *mask = PyList_GET_ITEM(masks, i);
        if (!PyDict_CheckExact(d) || !PyLong_CheckExact(mask))
            return 0;
        long bits = PyLong_AsLong(mask);
        if (bits == -1 && PyErr_Occurred()) {
            PyErr_Clear();
            return 0;
        }
        if (bits < 0 || bits > 0xFFFF)
            return 0;
        PyObject *role = item(d, K_ROLE), *c = item(d, K_CONTENT);
        if (role == NULL || c == NULL || !PyUnicode_CheckExact(role))
            return 0;
        int user = is_word(role, K_USER);
        if (!user && !is_word(role, K_ASSISTANT))
            return 0;
        if (i == 0 ? !user : user == prev_user)
            return 0;
        prev_user = user;
        int last = i == n - 1;
        if (PyUnicode_CheckExact(c)) {
            if (blank(c) || asked_any || (last && !user && ends_in_space(c)))
                return 0;
            continue;
        }
        if (!PyList_CheckExact(c) || PyList_GET_SIZE(c) == 0)
            return 0;
        Py_ssize_t nb = PyList_GET_SIZE(c);
        if (user) {
            int other = 0;
            for (Py_ssize_t j = 0; j < nb; j++) {
                PyObject *b = PyList_GET_ITEM(c, j);
                int kind = PyDict_CheckExact(b) ? block_kind(b) : B_OTHER;
                if (kind == B_TEXT) {
                    int r = text_block(b, i, j, looks);
                    if (r <= 0)
                        return r;
                    other = 1;
                } else if (kind == B_IMAGE) {
                    if (!has_source(b))
                        return 0;
                    if (!note_look(looks, i, j, -1))
                        return -1;
                    other = 1;
                } else if (kind == B_TOOL_RESULT) {
                    PyObject *tid = item(b, K_TOOL_USE_ID);
                    if (tid == NULL || !PyUnicode_CheckExact(tid) || other || !asked_any)
                        return 0;
                    int ok = clean_result(b, i, j, looks);
                    if (ok <= 0)
                        return ok;
                    int r = PySet_Discard(asked, tid); /* answered: out of asked */
                    if (r < 0)
                        return -1;
                    if (r == 0)
                        return 0; /* an orphan, or an id answered twice */
                } else {
                    return 0;
                }
            }
            if (asked_any && PySet_GET_SIZE(asked) != 0)
                return 0; /* tool-use.missing-result */
            asked_any = 0;
        } else {
            for (Py_ssize_t j = 0; j < nb; j++) {
                PyObject *b = PyList_GET_ITEM(c, j);
                int kind = PyDict_CheckExact(b) ? block_kind(b) : B_OTHER;
                if (kind == B_TEXT) {
                    int r = text_block(b, i, j, looks);
                    if (r <= 0)
                        return r;
                } else if (kind == B_TOOL_USE) {
                    PyObject *tid = item(b, K_ID), *name = item(b, K_NAME), *input = item(b, K_INPUT);
                    if (tid == NULL || name == NULL || input == NULL || !PyUnicode_CheckExact(tid)
                        || !PyUnicode_CheckExact(name) || !PyDict_CheckExact(input))
                        return 0;
                    int r = PySet_Contains(seen, tid);
                    if (r != 0)
                        return r < 0 ? -1 : 0; /* tool-use.duplicate-id */
                    if (PySet_Add(seen, tid) < 0 || PySet_Add(asks, tid) < 0)
                        return -1;
                    if (has_cc(b) && !note_look(looks, i, j, -1))
                        return -1;
                } else if (kind == B_THINKING) {
                    PyObject *t = item(b, K_THINKING), *sig = item(b, K_SIGNATURE);
                    if (t == NULL || sig == NULL || !PyUnicode_CheckExact(t) || !PyUnicode_CheckExact(sig))
                        return 0;
                } else if (kind == B_REDACTED) {
                    PyObject *data = item(b, K_DATA);
                    if (data == NULL || !PyUnicode_CheckExact(data))
                        return 0;
                } else {
                    return 0;
                }
            }
            if (last) {
                PyObject *b = PyList_GET_ITEM(c, nb - 1);
                if (PySet_GET_SIZE(asks) != 0)
                    return 0; /* the conversation ends with tool calls unanswered */
                if (block_kind(b) == B_TEXT && ends_in_space(item(b, K_TEXT)))
                    return 0; /* prefill.trailing-whitespace */
            }
            /* this turn's calls are what the next one must answer: the sets trade places (asked
             * is empty here, as it is whenever asked_any is 0 or the user turn answered all) */
            PyObject *was = asked;
            asked = asks;
            asks = was;
            asked_any = PySet_GET_SIZE(asked) != 0;
        }
    }
    return 1;
}

static PyObject *
clean_turns(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "clean_turns(turns, masks) takes two arguments");
        return NULL;
    }
    if (!PyList_CheckExact(args[0]) || !PyList_CheckExact(args[1]))
        Py_RETURN_FALSE;
    PyObject *seen = PySet_New(NULL), *asked = PySet_New(NULL), *asks = PySet_New(NULL), *looks = NULL;
    int r = seen && asked && asks ? judge(args[0], args[1], seen, asked, asks, &looks) : -1;
    Py_XDECREF(seen);
    Py_XDECREF(asked);
    Py_XDECREF(asks);
    if (r <= 0 || looks == NULL) {
        Py_XDECREF(looks);
        return r < 0 ? NULL : PyBool_FromLong(r);
    }
    return looks; /* clean but for the blocks to look at: where they are */
}

/* ------------------------------------------------------------------ drop_images */

/* turn d without its images (each replaced by placeholder, unless NULL): a new turn {"role",
 * "content"} in *kept, or *kept NULL when no block is left; the images' (i, j) appended to where
 * (or counted in *count when where is NULL). 1 done, 0 not editable here (a block not a typed
 * dict, a tool result with blocks, a turn not an object or without a role), -1 on error */
static int
images_out(PyObject *d, Py_ssize_t i, PyObject *placeholder, PyObject *where, Py_ssize_t *count, PyObject **kept)
{
    *kept = NULL;
    if (!PyDict_CheckExact(d))
        return 0;
    PyObject *role = item(d, K_ROLE), *c = item(d, K_CONTENT);
    if (role == NULL || c == NULL || !PyList_CheckExact(c))
        return 0;
    Py_ssize_t n = PyList_GET_SIZE(c);
    PyObject *blocks = PyList_New(0);
    if (blocks == NULL)
        return -1;
    for (Py_ssize_t j = 0; j < n; j++) {
        PyObject *b = PyList_GET_ITEM(c, j);
        PyObject *t = PyDict_CheckExact(b) ? item(b, K_TYPE) : NULL;
        if (t == NULL || !PyUnicode_CheckExact(t))
            goto not_here;
        if (is_word(t, K_IMAGE)) {
            if (where == NULL) {
                (*count)++;
            } else {
                PyObject *at = Py_BuildValue("(nn)", i, j);
                int bad = at == NULL || PyList_Append(where, at) < 0;
                Py_XDECREF(at);
                if (bad)
                    goto error;
            }
            if (placeholder != NULL && PyList_Append(blocks, placeholder) < 0)
                goto error;
            continue;
        }
        if (is_word(t, K_TOOL_RESULT)) {
            PyObject *inner = item(b, K_CONTENT);
            if (inner != NULL && PyList_CheckExact(inner))
                goto not_here; /* images may be inside: the built blocks' edit does it */
        }
        if (PyList_Append(blocks, b) < 0)
            goto error;
    }
    if (PyList_GET_SIZE(blocks) == 0) {
        Py_DECREF(blocks);
        return 1;
    }
    PyObject *turn = PyDict_New();
    if (turn == NULL || PyDict_SetItem(turn, W[K_ROLE], role) < 0 || PyDict_SetItem(turn, W[K_CONTENT], blocks) < 0) {
        Py_XDECREF(turn);
        goto error;
    }
    Py_DECREF(blocks);
    *kept = turn;
    return 1;
not_here:
    Py_DECREF(blocks);
    return 0;
error:
    Py_DECREF(blocks);
    return -1;
}

/* drop_images(turns, masks, image_bit, text_bit, placeholder, paths): the parsed turns of a
 * lazy conversation (convo.model.lazy_turns) without images, for drop_images(): a tuple (out,
 * out_masks, said, empty). Each turn whose mask has image_bit is copied without its images (each
 * replaced by placeholder, a dict, unless None), its mask without image_bit and with text_bit;
 * said is the images' (i, j) in order where paths is true, else their count; empty lists the
 * turns left with no block (they stay in out as they were: the caller decides). None where a
 * turn with an image cannot be edited here (a tool result with blocks: build it). */
static PyObject *
drop_images(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 6) {
        PyErr_SetString(PyExc_TypeError, "drop_images(turns, masks, image_bit, text_bit, placeholder, paths) takes six arguments");
        return NULL;
    }
    PyObject *turns = args[0], *masks = args[1], *placeholder = args[4];
    long image_bit = PyLong_AsLong(args[2]), text_bit = PyLong_AsLong(args[3]);
    int paths = PyObject_IsTrue(args[5]);
    if ((image_bit == -1 || text_bit == -1) && PyErr_Occurred())
        return NULL;
    if (paths < 0)
        return NULL;
    if (!PyList_CheckExact(turns) || !PyList_CheckExact(masks) || PyList_GET_SIZE(masks) != PyList_GET_SIZE(turns)
        || !(placeholder == Py_None || PyDict_CheckExact(placeholder))) {
        PyErr_SetString(PyExc_TypeError, "drop_images: turns and masks must be lists of one length, placeholder a dict or None");
        return NULL;
    }
    if (placeholder == Py_None)
        placeholder = NULL;
    Py_ssize_t n = PyList_GET_SIZE(turns), count = 0;
    PyObject *out = PyList_GetSlice(turns, 0, n), *out_masks = PyList_GetSlice(masks, 0, n);
    PyObject *empty = PyList_New(0), *where = paths ? PyList_New(0) : NULL, *result = NULL;
    if (out == NULL || out_masks == NULL || empty == NULL || (paths && where == NULL))
        goto done;
    for (Py_ssize_t i = 0; i < n; i++) {
        long bits = PyLong_AsLong(PyList_GET_ITEM(masks, i));
        if (bits == -1 && PyErr_Occurred())
            goto done;
        if (!(bits & image_bit))
            continue;
        PyObject *kept;
        int r = images_out(PyList_GET_ITEM(turns, i), i, placeholder, where, &count, &kept);
        if (r < 0)
            goto done;
        if (r == 0) {
            result = Py_NewRef(Py_None);
            goto done;
        }
        if (kept == NULL) { /* no block left: the caller decides (the turn stays in out) */
            PyObject *at = PyLong_FromSsize_t(i);
            int bad = at == NULL || PyList_Append(empty, at) < 0;
            Py_XDECREF(at);
            if (bad)
                goto done;
            continue;
        }
        PyList_SetItem(out, i, kept); /* steals kept, drops out's reference to the old turn */
        PyObject *mask = PyLong_FromLong((bits & ~image_bit) | text_bit);
        if (mask == NULL)
            goto done;
        PyList_SetItem(out_masks, i, mask);
    }
    PyObject *said = paths ? Py_NewRef(where) : PyLong_FromSsize_t(count);
    result = said == NULL ? NULL : Py_BuildValue("(OONO)", out, out_masks, said, empty);
done:
    Py_XDECREF(out);
    Py_XDECREF(out_masks);
    Py_XDECREF(empty);
    Py_XDECREF(where);
    return result;
}

static PyMethodDef methods[] = {
    {"clone", clone_, METH_O, "clone(obj): a new instance of obj's class with the same slot values."},
    {"maker", maker, METH_VARARGS, "maker(cls, names): a callable making cls from one value per named slot."},
    {"packer", packer, METH_VARARGS, "packer(cls, names, keys, skip): a callable giving {key: slot} of a cls."},
    {"clean_turns", (PyCFunction)(void (*)(void))clean_turns, METH_FASTCALL,
     "clean_turns(turns, masks): True when parsed turns need neither the message rules nor the closed world's walk."},
    {"drop_images", (PyCFunction)(void (*)(void))drop_images, METH_FASTCALL,
     "drop_images(turns, masks, image_bit, text_bit, placeholder, paths): parsed turns without their images."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "convo._speedups",
    "Slot copying for convo's frozen values (optional; see convo/_speedups.c).", -1, methods,
};

PyMODINIT_FUNC
PyInit__speedups(void)
{
    if (PyType_Ready(&SlotFunctionType) < 0)
        return NULL;
    for (int k = 0; k < K_COUNT; k++)
        if (W[k] == NULL && (W[k] = PyUnicode_InternFromString(WORDS[k])) == NULL)
            return NULL;
    return PyModule_Create(&module);
}
