"""Trainer workspace: editing modules, attaching materials, keeping question banks current."""
