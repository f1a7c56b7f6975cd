#include "api/connection_table.h"

namespace hotrod {

ConnectionTable::Queue* ConnectionTable::QueueFor(ConnectionState state) {
  switch (state) {
    case ConnectionState::kClosing: return &closing_;
    case ConnectionState::kIdle: return &idle_;
    case ConnectionState::kHeader: return &header_;
    case ConnectionState::kBody: return &body_;
    case ConnectionState::kBusy: return nullptr;
  }
  return nullptr;
}

void ConnectionTable::Link(Id id, const Entry& entry) {
  if (Queue* q = QueueFor(entry.state)) q->emplace(entry.since, id);
  if (entry.state != ConnectionState::kClosing) ++open_from_[entry.address];
}

void ConnectionTable::Unlink(Id id, const Entry& entry) {
  if (Queue* q = QueueFor(entry.state)) q->erase({entry.since, id});
  if (entry.state != ConnectionState::kClosing) {
    auto it = open_from_.find(entry.address);
    if (--it->second == 0) open_from_.erase(it);
  }
}

ConnectionTable::Id ConnectionTable::Add(const std::string& address, ConnectionState state, Clock::time_point now) {
  const Id id = next_id_++;
  auto [it, inserted] = entries_.emplace(id, Entry{address, state, now});
  Link(id, it->second);
  return id;
}

void ConnectionTable::Set(Id id, ConnectionState state, Clock::time_point now) {
  auto it = entries_.find(id);
  if (it == entries_.end()) return;
  Unlink(id, it->second);
  it->second.state = state;
  it->second.since = now;
  Link(id, it->second);
}

void ConnectionTable::Remove(Id id) {
  auto it = entries_.find(id);
  if (it == entries_.end()) return;
  Unlink(id, it->second);
  entries_.erase(it);
}

std::optional<ConnectionTable::Id> ConnectionTable::ChooseVictim() const {
  for (const Queue* q : {&closing_, &idle_, &header_, &body_})
    if (!q->empty()) return q->begin()->second;
  return std::nullopt;
}

std::optional<ConnectionState> ConnectionTable::state(Id id) const {
  auto it = entries_.find(id);
  if (it == entries_.end()) return std::nullopt;
  return it->second.state;
}

size_t ConnectionTable::OpenFrom(const std::string& address) const {
  auto it = open_from_.find(address);
  return it == open_from_.end() ? 0 : it->second;
}

}  // namespace hotrod
