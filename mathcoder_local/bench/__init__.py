"""`bench`: many problems through the solve loop at once, resumable, graded, in a run folder."""
