// Whether a tower's breach report holds together with what the client backed
// up (pure: no I/O, no clock). A tower answering get_appointment with
// "dispute_responded" says the revoked commitment of that backup was
// broadcast and that it sent the penalty; it decrypted the very blob the
// client gave it, so its penalty must be the client's.
#pragma once

#include "client/backup/backup_queue.h"

namespace argus::client {

// The breach to record, or why the report contradicts the backup (the tower
// is then not to be believed: the caller marks it misbehaving). `state` must
// be dispute_responded.
Result<BreachRecord> check_dispute_report(const BackupRecord& backup, const AppointmentState& state,
                                          const PublicKey& tower, std::int64_t now_ms);

}  // namespace argus::client
