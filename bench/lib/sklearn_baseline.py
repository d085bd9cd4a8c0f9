"""scikit-learn on the rows and folds leadgate learns from, for comparison.

Reads the CSV `leadgate model examples --raw` writes (a column per feature, then
`outcome` and the cross-validation `fold`; a column whose every value reads as a number
is taken as one) and prints, for HistGradientBoosting and logistic
regression cross-validated on those same folds: ROC AUC, Brier score, the mean predicted
probability beside the observed rate, and the largest gap between a decile's mean
predicted and its observed rate.

    python3 bench/lib/sklearn_baseline.py examples.csv

Needs scikit-learn and pandas (pip install scikit-learn pandas).
"""

import sys

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss, roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler


def load(path):
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    y = frame.pop("outcome").astype(int).to_numpy()
    fold = frame.pop("fold").astype(int).to_numpy()
    numbers, texts = [], []
    for name in frame.columns:
        values = frame[name].replace("", np.nan)
        converted = pd.to_numeric(values, errors="coerce")
        if converted.notna().sum() == values.notna().sum():
            frame[name] = converted
            numbers.append(name)
        else:
            frame[name] = values.fillna("(none)")
            texts.append(name)
    return frame, y, fold, numbers, texts


def deciles(p, y):
    order = np.argsort(p, kind="stable")
    return [(p[part].mean(), y[part].mean(), len(part)) for part in np.array_split(order, 10)]


def report(name, p, y):
    worst = max((abs(mean - rate) for mean, rate, count in deciles(p, y) if count >= 100), default=float("nan"))
    print(
        f"{name:<28} ROC AUC {roc_auc_score(y, p):.4f}  Brier {brier_score_loss(y, p):.4f}  "
        f"mean predicted {p.mean():.4f} (observed {y.mean():.4f})  worst decile gap {worst:.3f}"
    )


def main(path):
    frame, y, fold, numbers, texts = load(path)
    print(f"{len(y)} contacts, {y.sum()} reached the target; {len(numbers)} number and {len(texts)} text features")
    hgb_frame = frame.copy()
    for name in texts:
        # At most 255 categories a column: the rarest are pooled.
        top = hgb_frame[name].value_counts().index[:250]
        hgb_frame[name] = hgb_frame[name].where(hgb_frame[name].isin(top), "(other)").astype("category")
    models = {
        "HistGradientBoosting": (
            hgb_frame,
            lambda: HistGradientBoostingClassifier(categorical_features="from_dtype", random_state=0),
        ),
        "logistic regression": (
            frame,
            lambda: make_pipeline(
                ColumnTransformer(
                    [
                        ("numbers", make_pipeline(SimpleImputer(add_indicator=True), StandardScaler()), numbers),
                        ("texts", OneHotEncoder(handle_unknown="ignore", min_frequency=5), texts),
                    ]
                ),
                LogisticRegression(max_iter=2000),
            ),
        ),
    }
    base = np.full(len(y), y.mean())
    print(f"{'guessing the base rate':<28} Brier {brier_score_loss(y, base):.4f}")
    for name, (data, make) in models.items():
        p = np.zeros(len(y))
        for k in sorted(set(fold)):
            model = make().fit(data[fold != k], y[fold != k])
            p[fold == k] = model.predict_proba(data[fold == k])[:, 1]
        report(name, p, y)


if __name__ == "__main__":
    main(sys.argv[1])
