# Rendered by the pipeline; re-render with: gnuplot profit_curve.gp
set terminal pngcairo size 900,560 font "DejaVu Sans,10" noenhanced
set output "profit_curve.png"
set encoding utf8
set title "Expected profit vs customers contacted (ranked by predicted uplift; test split, model's expectation)"
set xlabel "customers contacted"
set ylabel "expected profit"
set grid
set key top right
plot 'profit_curve.dat' using 1:3 with lines lw 2 lc rgb "#4C72B0" title "expected profit", \
     'profit_best.dat' using 1:2 with points pt 7 ps 1.6 lc rgb "#C44E52" title "best N = 7200"
unset output
