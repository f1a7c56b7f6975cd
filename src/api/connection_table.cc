#include "api/connection_table.h"

#include <iterator>

namespace hotrod {

ConnectionTable::Queue::iterator ConnectionTable::PlaceFor(ConnectionState state, Clock::time_point since) {
  Queue& q = QueueFor(state);
  auto it = q.end();
  if (state == ConnectionState::kBusy) return it;  // never shed: its order does not matter
  while (it != q.begin() && entries_.at(*std::prev(it)).since > since) --it;
  return it;
}

void ConnectionTable::CountAddress(const Entry& entry, int delta) {
  if (entry.state == ConnectionState::kClosing) return;  // closing connections are not counted
  if (delta > 0) {
    ++open_from_[entry.address];
    return;
  }
  auto it = open_from_.find(entry.address);
  if (--it->second == 0) open_from_.erase(it);
}

ConnectionTable::Id ConnectionTable::Add(const std::string& address, ConnectionState state, Clock::time_point now) {
  const Id id = next_id_++;
  auto node = QueueFor(state).insert(PlaceFor(state, now), id);
  auto [it, inserted] = entries_.emplace(id, Entry{address, state, now, node});
  CountAddress(it->second, +1);
  return id;
}

void ConnectionTable::Set(Id id, ConnectionState state, Clock::time_point now) {
  auto it = entries_.find(id);
  if (it == entries_.end()) return;
  Entry& e = it->second;
  // Only closing changes the count per address; the request path (idle, header, busy) leaves
  // it, and with it the string lookup.
  const bool recount = (e.state == ConnectionState::kClosing) != (state == ConnectionState::kClosing);
  if (recount) CountAddress(e, -1);
  Queue& from = QueueFor(e.state);
  const auto place = PlaceFor(state, now);
  // splice keeps e.node valid: the node itself moves.
  QueueFor(state).splice(place, from, e.node);
  e.state = state;
  e.since = now;
  if (recount) CountAddress(e, +1);
}

void ConnectionTable::Remove(Id id) {
  auto it = entries_.find(id);
  if (it == entries_.end()) return;
  CountAddress(it->second, -1);
  QueueFor(it->second.state).erase(it->second.node);
  entries_.erase(it);
}

std::optional<ConnectionTable::Id> ConnectionTable::ChooseVictim() const {
  for (ConnectionState s : {ConnectionState::kClosing, ConnectionState::kIdle, ConnectionState::kHeader,
                            ConnectionState::kBody}) {
    const Queue& q = queues_[static_cast<size_t>(s)];
    if (!q.empty()) return q.front();
  }
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
