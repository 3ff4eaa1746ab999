package store

// WaitingMarks returns how many outbox marks wait for a Commit.
func (s *Store) WaitingMarks() int {
	s.marks.mu.Lock()
	defer s.marks.mu.Unlock()
	return len(s.marks.waiting)
}
