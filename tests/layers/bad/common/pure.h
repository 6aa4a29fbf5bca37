// Fixture: a pure header that reaches up into the server.
#include "server/tower/service.h"
