"""Quality review (质检): the checklist and scores (pure), and its desktop page."""
