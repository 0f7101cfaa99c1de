/* A shared library without any plugin entry symbol: the host must refuse it. */
int cnoentry_unrelated(int value) { return value + 1; }
