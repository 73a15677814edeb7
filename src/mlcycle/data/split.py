"""Split: a stratified, seeded train/test split."""

from __future__ import annotations

import pandas as pd
from sklearn.model_selection import train_test_split

from mlcycle.config import DatasetConfig


def split_data(frame: pd.DataFrame, config: DatasetConfig) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Train and test tables with the same class balance; the same seed gives the same split."""
    train, test = train_test_split(
        frame,
        test_size=config.test_size,
        random_state=config.seed,
        stratify=frame[config.label],
    )
    return train.reset_index(drop=True), test.reset_index(drop=True)
