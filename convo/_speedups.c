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

static PyMethodDef methods[] = {
    {"clone", clone_, METH_O, "clone(obj): a new instance of obj's class with the same slot values."},
    {"maker", maker, METH_VARARGS, "maker(cls, names): a callable making cls from one value per named slot."},
    {"packer", packer, METH_VARARGS, "packer(cls, names, keys, skip): a callable giving {key: slot} of a cls."},
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
    return PyModule_Create(&module);
}
